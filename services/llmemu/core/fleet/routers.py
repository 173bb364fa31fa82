"""Routers: which replica of a pool serves an arriving request. A registry of named
strategies, like routing and batching; `cluster.router` names one.

Every router sees the same view of each replica (`ReplicaView`): its queue, its running
batch, its KV usage and how many leading KV blocks of a prompt it holds. The weighted router
composes normalised scorers as llm-d's inference scheduler does (queue, KV usage, prefix).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from llmemu.core.errors import ConfigError
from llmemu.core.registry import lookup


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a router may read of a request: its lengths, prompt block hashes and session."""

    prompt_tokens: int
    output_tokens: int
    hashes: tuple[int, ...] = ()
    """Chained hashes of the prompt's full KV blocks (empty: no prefix information)."""
    session: int | None = None


class ReplicaView(Protocol):
    name: str

    @property
    def num_waiting(self) -> int: ...
    @property
    def num_running(self) -> int: ...
    @property
    def kv_usage(self) -> float: ...
    @property
    def num_assigned(self) -> int: ...
    def cached_blocks(self, hashes: tuple[int, ...]) -> int: ...


def _load(r: ReplicaView) -> tuple[int, float, int]:
    """least-loaded's order: requests queued or running, then KV usage, then fewest
    requests sent so far (so idle replicas take turns)."""
    return (r.num_waiting + r.num_running, r.kv_usage, r.num_assigned)


class RoundRobin:
    reads_replicas = False
    """Its picks depend on no replica's state (the driver may then advance replicas apart)."""

    def __init__(self, options: dict[str, float]) -> None:
        self._next = 0

    def pick(self, req: Arrival, replicas: Sequence[ReplicaView]) -> int:
        i = self._next % len(replicas)
        self._next += 1
        return i

    def picks(self, count: int, replicas: int) -> np.ndarray:
        """The picks of the next `count` arrivals over `replicas` replicas, at once."""
        out = (self._next + np.arange(count)) % replicas
        self._next += count
        return out


class LeastLoaded:
    def __init__(self, options: dict[str, float]) -> None:
        pass

    def pick(self, req: Arrival, replicas: Sequence[ReplicaView]) -> int:
        return min(range(len(replicas)), key=lambda i: _load(replicas[i]))


class PrefixAffinity:
    """The replica holding the longest cached prefix, among those whose load is within
    `slack` requests of the least loaded (SGLang's cache-aware router balances the same
    way: affinity until it would pile work on one replica); load breaks ties."""

    def __init__(self, options: dict[str, float]) -> None:
        self.slack = options.get("slack", 16)

    def pick(self, req: Arrival, replicas: Sequence[ReplicaView]) -> int:
        loads = [_load(r) for r in replicas]
        floor = min(load[0] for load in loads)
        best, best_key = 0, None
        for i, r in enumerate(replicas):
            if loads[i][0] > floor + self.slack:
                continue
            key = (-r.cached_blocks(req.hashes) if req.hashes else 0, loads[i])
            if best_key is None or key < best_key:
                best, best_key = i, key
        return best


class Weighted:
    """Sum of scorers in [0, 1], each times its weight (llm-d: queue, kv-cache, prefix)."""

    def __init__(self, options: dict[str, float]) -> None:
        self.weights = {k: options.get(k, 1.0) for k in ("queue", "kv", "prefix")}

    def pick(self, req: Arrival, replicas: Sequence[ReplicaView]) -> int:
        queues = [r.num_waiting for r in replicas]
        low, high = min(queues), max(queues)
        blocks = max(1, len(req.hashes))
        w = self.weights
        best, best_score = 0, -1.0
        for i, r in enumerate(replicas):
            queue = 1.0 if high == low else (high - queues[i]) / (high - low)
            prefix = r.cached_blocks(req.hashes) / blocks if req.hashes else 0.0
            score = w["queue"] * queue + w["kv"] * (1.0 - r.kv_usage) + w["prefix"] * prefix
            if score > best_score:
                best, best_score = i, score
        return best


class Session:
    """Sticky by session id: a session's first turn goes to the least loaded replica and
    every later turn follows it (where its history is cached)."""

    def __init__(self, options: dict[str, float]) -> None:
        self.home: dict[int, int] = {}
        self._fallback = LeastLoaded(options)

    def pick(self, req: Arrival, replicas: Sequence[ReplicaView]) -> int:
        if req.session is None:
            return self._fallback.pick(req, replicas)
        i = self.home.get(req.session)
        if i is None or i >= len(replicas):
            i = self.home[req.session] = self._fallback.pick(req, replicas)
        return i


class Router(Protocol):
    """`reads_replicas = False` on a router whose picks read no replica state; a router
    without the attribute reads it."""

    def pick(self, req: Arrival, replicas: Sequence[ReplicaView]) -> int: ...


ROUTERS: dict[str, Callable[[dict[str, float]], Router]] = {
    "round-robin": RoundRobin,
    "least-loaded": LeastLoaded,
    "prefix-affinity": PrefixAffinity,
    "weighted": Weighted,
    "session": Session,
}

KNOWN_OPTIONS = {"weighted": {"queue", "kv", "prefix"}, "prefix-affinity": {"slack"}}


def make_router(name: str, options: dict[str, float]) -> Router:
    factory = lookup(ROUTERS, name, "cluster.router")
    unknown = set(options) - KNOWN_OPTIONS.get(name, set())
    if unknown:
        valid = ", ".join(sorted(KNOWN_OPTIONS.get(name, ()))) or "none"
        raise ConfigError(
            f"cluster.router_options: {sorted(unknown)} do not apply to router {name!r}; "
            f"its options: {valid}"
        )
    return factory(options)
