"""Workloads: when requests arrive and how long they are. Pure: files arrive as rows.

Arrivals are open-loop (`poisson` at a rate, or `trace` times) or closed-loop (`closed`:
a fixed number of users, each sending its next request when the last one finishes).
Lengths are `constant`, `normal` (rounded, at least 1), `uniform` (inclusive), or sampled
rows of (input, output) pairs (`csv`, `trace`).
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmemu.core.errors import ConfigError
from llmemu.core.int_table import int_table

MAX_TOKENS = 10_000_000
"""Longer than any model's context: a larger length is a typo, refused with its field."""
MAX_REQUESTS = 100_000_000
MAX_BURST = 1_000_000
"""Requests of a burst at most: all of them wait in the engine at once (10,000,000 grew
past 2.7 GB before the first finished)."""
MAX_SPAN_S = 1e9
"""Latest arrival, seconds (~31 years): beyond, a float's step is over a microsecond, and at
1e302 s every latency came out 0.0."""


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, allow_inf_nan=False)


class Constant(_Spec):
    kind: Literal["constant"]
    value: int = Field(gt=0, le=MAX_TOKENS, description="tokens")


class Normal(_Spec):
    kind: Literal["normal"]
    mean: float = Field(gt=0, le=MAX_TOKENS, description="tokens")
    std: float = Field(ge=0, le=MAX_TOKENS, description="tokens")


class Uniform(_Spec):
    kind: Literal["uniform"]
    low: int = Field(gt=0, le=MAX_TOKENS, description="tokens, inclusive")
    high: int = Field(gt=0, le=MAX_TOKENS, description="tokens, inclusive")

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.low > self.high:
            raise ValueError(f"low={self.low} is above high={self.high}")
        return self


Length = Annotated[Constant | Normal | Uniform, Field(discriminator="kind")]


class Poisson(_Spec):
    kind: Literal["poisson"]
    rate: float = Field(gt=0, description="requests per second")


class Closed(_Spec):
    kind: Literal["closed"]
    concurrency: int = Field(gt=0, description="users, each with one request in flight")


class Burst(_Spec):
    kind: Literal["burst"]
    """Every request at time 0 (offline throughput, as the papers measure it)."""


Arrival = Annotated[Poisson | Closed | Burst, Field(discriminator="kind")]


class LengthsFile(_Spec):
    kind: Literal["csv"]
    path: str = Field(description="CSV with input_tokens,output_tokens columns (or Splitwise's)")


class PrefixGroups(_Spec):
    """A share of the prompts open with one of a few system prompts (agents, apps)."""

    groups: int = Field(gt=0, le=MAX_REQUESTS, description="distinct system prompts")
    tokens: int = Field(gt=0, le=MAX_TOKENS, description="tokens of each system prompt")
    fraction: float = Field(1.0, ge=0, le=1, description="share of requests that use one")


class Sessions(_Spec):
    """Multi-turn chats: each turn's prompt is the session's history plus a new input."""

    turns: int = Field(gt=0, le=10_000, description="turns per session")
    think_s: float = Field(0.0, ge=0, description="seconds between an answer and the next turn")


class WorkloadSpec(_Spec):
    requests: int = Field(1000, gt=0, le=MAX_REQUESTS, description="how many requests")
    arrival: Arrival = Field(default_factory=lambda: Poisson(kind="poisson", rate=1.0))
    input_tokens: Length | None = None
    output_tokens: Length | None = None
    lengths: LengthsFile | None = None
    trace: str | None = Field(
        None,
        description="JSONL of arrival_s, input_tokens, output_tokens, or a Mooncake trace "
        "(timestamp ms, input_length, output_length, hash_ids of 512-token blocks)",
    )
    time_scale: float = Field(
        1.0, gt=0, description="trace only: multiply arrival times (2 = half the rate)"
    )
    prefix_groups: PrefixGroups | None = Field(None, description="shared system prompts")
    sessions: Sessions | None = Field(
        None, description="multi-turn chats; arrival (poisson) starts sessions"
    )
    max_input_tokens: int | None = Field(
        None, gt=0, description="cap on prompts (default: context)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> WorkloadSpec:
        sources = [self.lengths is not None, self.trace is not None, self.input_tokens is not None]
        if sum(sources) != 1:
            raise ValueError(
                "give exactly one of: input_tokens+output_tokens, lengths (csv), or trace"
            )
        if self.input_tokens is not None and self.output_tokens is None:
            raise ValueError("input_tokens needs output_tokens too")
        if self.sessions is not None and (
            self.input_tokens is None or not isinstance(self.arrival, Poisson)
        ):
            raise ValueError(
                "sessions need input_tokens, output_tokens and a poisson arrival of sessions"
            )
        if self.time_scale != 1.0 and self.trace is None:
            raise ValueError("time_scale stretches a trace's arrival times; give a trace")
        if self.sessions is not None and self.prefix_groups is not None:
            raise ValueError("give prefix_groups or sessions, not both")
        return self

    @model_validator(mode="after")
    def _bounded(self) -> WorkloadSpec:
        if isinstance(self.arrival, Poisson) and self.requests / self.arrival.rate > MAX_SPAN_S:
            span = self.requests / self.arrival.rate
            raise ValueError(
                f"{self.requests} requests at {self.arrival.rate:g}/s arrive over ~{span:.3g} s, "
                f"past {MAX_SPAN_S:g} s where times lose precision; raise arrival.rate or lower "
                "requests"
            )
        if isinstance(self.arrival, Burst) and self.requests > MAX_BURST:
            raise ValueError(
                f"a burst of {self.requests} requests holds them all at once; at most "
                f"{MAX_BURST}: lower requests or use a poisson arrival"
            )
        return self


def sample_lengths(spec: Length, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(spec, Constant):
        return np.full(n, spec.value, dtype=np.int64)
    if isinstance(spec, Normal):
        return np.maximum(1, np.rint(rng.normal(spec.mean, spec.std, n))).astype(np.int64)
    return rng.integers(spec.low, spec.high + 1, n, dtype=np.int64)


def poisson_arrivals(rate: float, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.cumsum(rng.exponential(1.0 / rate, n))


_COLUMNS = {
    "input": ("input_tokens", "num_prefill_tokens", "prompt_tokens", "input_length"),
    "output": ("output_tokens", "num_decode_tokens", "completion_tokens", "output_length"),
}


def parse_length_rows(text: str, source: str) -> np.ndarray:
    """(input, output) pairs from CSV text with a header; accepts our and Splitwise's names.
    Blank lines are skipped; errors name the line of the file."""
    plain = _plain_rows(text, source)
    if plain is not None:
        return plain
    lines = text.splitlines()
    head = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    if head == len(lines):
        raise ConfigError(f"{source}: needs a header line and at least one row of lengths")
    header = [h.strip() for h in lines[head].split(",")]
    col_in, col_out = (_column(header, key, source) for key in ("input", "output"))
    rows = _rows_at_once(lines[head + 1 :], col_in, col_out)
    if rows is None:  # a short row, a cell that is not a number, or no row: name the line
        rows = _rows_one_by_one(lines, head, col_in, col_out, source)
    bad = ~(
        np.isfinite(rows).all(axis=1) & (rows >= 0).all(axis=1) & (rows <= MAX_TOKENS).all(axis=1)
    )
    if bad.any():
        number = _data_lines(lines, head)[int(np.argmax(bad))]
        raise ConfigError(f"{source}:{number}: lengths must be in [0, {MAX_TOKENS}]")
    return rows.astype(np.int64)


def _plain_rows(text: str, source: str) -> np.ndarray | None:
    """The pairs of a file whose first line is the header and whose every other line holds
    plain integers in range (int_table.py); None for the general reader to parse or refuse."""
    first, _, body = text.partition("\n")
    if len(first.splitlines()) != 1 or not first.strip():
        return None
    header = [h.strip() for h in first.split(",")]
    col_in, col_out = (_column(header, key, source) for key in ("input", "output"))
    table = int_table(body, len(header))
    if table is None:
        return None
    rows = table[:, [col_in, col_out]]
    return rows if (rows <= MAX_TOKENS).all() else None


def _column(header: list[str], key: str, source: str) -> int:
    found = [i for i, h in enumerate(header) if h in _COLUMNS[key]]
    if not found:
        names = ", ".join(_COLUMNS[key])
        raise ConfigError(f"{source}: no {key} column; name one of {names} in the header")
    return found[0]


def _rows_at_once(body: list[str], col_in: int, col_out: int) -> np.ndarray | None:
    """The two columns, parsed by numpy's C reader (a tenth of the time of a Python loop on
    60,000 ShareGPT rows), which skips empty lines; None when it refuses a line (it accepts
    no cell that float() refuses) or there is none, for the loop to name the line."""
    if not any(body):
        return None
    try:
        return np.loadtxt(
            body, delimiter=",", usecols=(col_in, col_out), comments=None, dtype=np.float64, ndmin=2
        )
    except ValueError:
        return None


def _data_lines(lines: list[str], head: int) -> list[int]:
    """The 1-based file line of each row after the header line, blank lines skipped."""
    return [n for n in range(head + 2, len(lines) + 1) if lines[n - 1].strip()]


def _rows_one_by_one(
    lines: list[str], head: int, col_in: int, col_out: int, source: str
) -> np.ndarray:
    picked = []
    for number in _data_lines(lines, head):
        line = lines[number - 1]
        cells = line.split(",")
        try:
            picked.append((float(cells[col_in]), float(cells[col_out])))
        except (IndexError, ValueError):
            raise ConfigError(
                f"{source}:{number}: {line.strip()!r} has no number in the input or output "
                "column; fix or drop the row"
            ) from None
    if not picked:
        raise ConfigError(f"{source}: needs a header line and at least one row of lengths")
    return np.array(picked, dtype=np.float64)
