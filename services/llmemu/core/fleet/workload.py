"""Requests with prompt content: a plain workload, shared system prompts (prefix groups),
multi-turn sessions, or a Mooncake trace. Pure: the trace arrives as parsed rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llmemu.core.fleet.prompts import Segments, mooncake_segments
from llmemu.core.simulate import Workload
from llmemu.core.workload import PrefixGroups, Sessions, WorkloadSpec, sample_lengths

MOONCAKE_BLOCK_TOKENS = 512


def own(k: int) -> int:
    """The id of a segment no other prompt has: negative (trace ids are not), and never -1,
    which CPython hashes like -2."""
    return -2 - k


"""Tokens behind each Mooncake hash id (Mooncake FAST'25 traces README: block size 512)."""


@dataclass(frozen=True)
class FleetWorkload(Workload):
    """A materialised workload with prompt content: `segments[i]` is request i's (None:
    unknown). Arrivals are NaN for a later turn of a session, released `think_s` after its
    previous turn finishes."""

    segments: Sequence[Segments] | None = None
    sessions: np.ndarray | None = None
    parents: np.ndarray | None = None
    """Index of the turn a request follows, -1 for none."""
    think_s: float = 0.0


def from_workload(w: Workload) -> FleetWorkload:
    return FleetWorkload(w.inputs, w.outputs, w.arrivals, w.concurrency)


def with_prefix_groups(w: Workload, spec: PrefixGroups, seed: int) -> FleetWorkload:
    """A `fraction` of the requests start with one of `groups` system prompts of `tokens`
    tokens (picked uniformly); the rest of every prompt is its own."""
    rng = np.random.default_rng([seed, 1])
    n = len(w.inputs)
    shared = rng.random(n) < spec.fraction
    group = rng.integers(0, spec.groups, n)
    inputs = w.inputs + np.where(shared, spec.tokens, 0)
    segments = GroupSegments(np.where(shared, group, -1), spec.tokens, w.inputs)
    return FleetWorkload(inputs, w.outputs, w.arrivals, w.concurrency, segments)


class GroupSegments(Sequence[Segments]):
    """Request i's prompt: system prompt `group[i]` (none where -1), then its own text. Made
    when asked for, so a million requests hold three arrays rather than a million tuples."""

    def __init__(self, group: np.ndarray, tokens: int, own_tokens: np.ndarray) -> None:
        self.group, self.tokens, self.own_tokens = group, tokens, own_tokens

    def __len__(self) -> int:
        return len(self.group)

    def __getitem__(self, i):  # type: ignore[override]  # an index, never a slice here
        g, mine = int(self.group[i]), (own(i), int(self.own_tokens[i]))
        return ((g, self.tokens), mine) if g >= 0 else (mine,)


def with_sessions(spec: WorkloadSpec, sessions: Sessions, seed: int) -> FleetWorkload:
    """Conversations: session starts arrive as `spec.arrival` says; turn k's prompt is every
    earlier input and answer of its session plus a new input, sent `think_s` after the
    answer to turn k - 1 ends."""
    if spec.input_tokens is None or spec.output_tokens is None:
        raise ValueError("sessions need input_tokens and output_tokens")
    rng = np.random.default_rng([seed, 2])
    n = spec.requests
    num_sessions = -(-n // sessions.turns)
    new_in = sample_lengths(spec.input_tokens, n, rng)
    outputs = sample_lengths(spec.output_tokens, n, rng)
    starts = np.cumsum(rng.exponential(1.0 / spec.arrival.rate, num_sessions))
    inputs = np.zeros(n, dtype=np.int64)
    arrivals = np.full(n, np.nan)
    session_ids = np.arange(n) // sessions.turns
    parents = np.arange(n) - 1
    segments: list[Segments] = []
    history: Segments = ()
    for i in range(n):
        if i % sessions.turns == 0:
            history, arrivals[i], parents[i] = (), starts[i // sessions.turns], -1
        history = (*history, (own(2 * i), int(new_in[i])))
        inputs[i] = sum(t for _, t in history)
        history = (*history, (own(2 * i + 1), int(outputs[i])))
        segments.append(history)  # the answer too: its blocks are cached for the next turn
    return FleetWorkload(
        inputs, outputs, arrivals, 0, segments, session_ids, parents, sessions.think_s
    )


def from_mooncake(
    rows: list[tuple[float, int, int, tuple[int, ...]]], n: int, time_scale: float = 1.0
) -> FleetWorkload:
    """The first `n` rows of a Mooncake trace: (timestamp_s, input, output, hash_ids), the
    arrival times multiplied by `time_scale`."""
    take = rows[:n]
    t0 = take[0][0]
    return FleetWorkload(
        np.array([r[1] for r in take], dtype=np.int64),
        np.array([r[2] for r in take], dtype=np.int64),
        np.array([(r[0] - t0) * time_scale for r in take]),
        segments=[mooncake_segments(r[3], r[1], MOONCAKE_BLOCK_TOKENS) for r in take],
    )


def capped(w: FleetWorkload, max_context: int | None) -> FleetWorkload:
    """Outputs and prompts cut to the model's context, as `materialise` does."""
    if not max_context:
        return w
    outputs = np.minimum(np.maximum(1, w.outputs), max(1, max_context - 1))
    inputs = np.maximum(1, np.minimum(w.inputs, max_context - outputs))
    return FleetWorkload(
        inputs, outputs, w.arrivals, w.concurrency, w.segments, w.sessions, w.parents, w.think_s
    )
