"""What `llmemu bench` records of each request it sends."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Record:
    sent_s: float
    chunk_s: list[float] = field(default_factory=list)
    """Arrival (wall, perf_counter) of each chunk that carried content."""
    end_s: float = 0.0
    usage: dict | None = None
    error: str | None = None
