"""A request's state inside one engine. Ids come from the engine, never from a class counter."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"
    ABORTED = "aborted"


@dataclass(slots=True, eq=False)
class Request:
    """Token counts and timestamps (seconds of emulated time) of one request."""

    id: int
    arrival_s: float
    prompt_tokens: int
    max_output_tokens: int
    status: Status = Status.WAITING
    generated: int = 0
    computed: int = 0
    """Tokens whose KV is in the cache."""
    cached_tokens: int = 0
    """Prompt tokens found in the prefix cache when first admitted (vLLM's num_cached_tokens)."""
    num_blocks: int = 0
    num_preemptions: int = 0
    first_scheduled_s: float | None = None
    first_token_s: float | None = None
    last_token_s: float | None = None
    finish_s: float | None = None
    tag: object = None
    """Whatever the caller attached (the live server keeps its stream here)."""
    admission_order: int = 0
    """Rank of its latest admission in its scheduler (running requests are in this order)."""
    decode_offset: int | None = None
    """Set while the request decodes inside the engine's aggregate (decoding.py): its
    computed, generated, num_blocks and last_token_s are then written only on events or
    when the engine is asked to track every request."""
    decode_entry: int = 0
    """Which of its entries into that aggregate is current (older ones are stale)."""

    @property
    def known_tokens(self) -> int:
        """Prompt plus generated tokens: what the KV cache must eventually hold."""
        return self.prompt_tokens + self.generated

    @property
    def pending_tokens(self) -> int:
        """Tokens still to compute before the next token can be sampled."""
        return self.known_tokens - self.computed

    @property
    def remaining_output(self) -> int:
        return self.max_output_tokens - self.generated

    @property
    def done(self) -> bool:
        return self.status in (Status.FINISHED, Status.ABORTED)
