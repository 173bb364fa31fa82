"""Messages between the gateway and the scheduler service, nothing else.

They are plain frozen dataclasses of numbers and strings, so the in-memory transport passes
them as they are and a network transport (Redis streams, HTTP) can serialise them with
`dataclasses.asdict` and rebuild them with `Cls(**fields)`. Times are seconds of emulated
time on the clock both sides share.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SubmitSequence:
    """One sequence to generate: a prompt's tokens and how many tokens it will produce.

    The gateway decides the output length (sampling is its business); the scheduler only
    paces it. A request with `n` choices or a batch of prompts is several sequences with one
    `reply_to`."""

    seq_id: str
    reply_to: str
    prompt_tokens: int
    output_tokens: int
    arrival_s: float
    finish_reason: str
    """What the sequence ends with when it completes: "length" or "stop"."""
    params_max_tokens: int | None = None
    params_n: int = 1
    prompt_token_ids: tuple[int, ...] = ()
    """The prompt's token ids where the replica caches prefixes (its block keys are
    chained hashes of them, as vLLM's); empty otherwise."""


@dataclass(frozen=True, slots=True)
class AbortSequence:
    """The client went away: drop the sequence and free its KV blocks."""

    seq_id: str


@dataclass(slots=True)
class TokenEvent:
    """A sequence produced its `generated`-th token when the iteration ending at `time_s`
    ended; `finish_reason` is set on its last token (or "error" / "abort" with `error`).

    Not frozen, though nothing changes one after it is made: one is built per token per
    stream, and a frozen dataclass's __init__ (object.__setattr__ per field) costs five
    times a plain one's."""

    seq_id: str
    generated: int
    time_s: float
    finish_reason: str | None = None
    error: str | None = None
    status: int = 500
    """HTTP status of `error`: 500 an engine fault, 503 a device or the message bus is down."""


@dataclass(frozen=True, slots=True)
class SchedulerLoad:
    """What admission control needs: sequences not yet scheduled, and running ones."""

    num_waiting: int
    num_running: int
