"""How long a generated answer is and what it says.

Without `ignore_eos`, an answer ends (finish_reason "stop") after a length drawn from the
scenario's output-length distribution, the same one the offline simulator draws from; the
token limit caps it ("length"). A scenario without a workload has no such distribution and
every answer runs to its limit. Text is seeded: the same request seed gives the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

import numpy as np

from llmemu.core.workload import Length, WorkloadSpec, sample_lengths


@dataclass(frozen=True, slots=True)
class Draw:
    output_tokens: int
    finish_reason: str
    token_ids: list[int]
    pieces: tuple[str, ...] | None = None
    """Each token's text when a stop string cut the answer (stops.py); else the words'."""
    stop_reason: str | None = None


class OutputSampler:
    def __init__(
        self,
        word_ids: list[int],
        seed: int,
        *,
        length: Length | None = None,
        rows: np.ndarray | None = None,
    ) -> None:
        self.word_ids = np.asarray(word_ids, dtype=np.int64)
        self.seed = seed
        self.length = length
        self.rows = rows
        """Output column of a lengths file or trace, sampled uniformly."""
        self._counter = count(1)
        """Unseeded draws, numbered; next() is atomic, and requests draw on worker threads."""

    @classmethod
    def for_workload(
        cls, word_ids: list[int], seed: int, workload: WorkloadSpec | None, rows: np.ndarray | None
    ) -> OutputSampler:
        length = workload.output_tokens if workload is not None else None
        return cls(word_ids, seed, length=length, rows=rows)

    def draw(self, max_tokens: int, *, ignore_eos: bool, min_tokens: int, seed: int | None) -> Draw:
        if seed is None:
            rng = np.random.default_rng([self.seed, 0, next(self._counter)])
        else:
            rng = np.random.default_rng([self.seed, 1, seed & 0xFFFFFFFFFFFFFFFF])
        natural = None if ignore_eos else self._natural(rng)
        if natural is None or natural >= max_tokens:
            n, reason = max_tokens, "length"
        else:  # an end-of-sequence token came first, but not before min_tokens
            n, reason = min(max(natural, min_tokens, 1), max_tokens), "stop"
        ids = self.word_ids[rng.integers(0, len(self.word_ids), n)]
        return Draw(n, reason, ids.tolist())

    def _natural(self, rng: np.random.Generator) -> int | None:
        if self.length is not None:
            return int(sample_lengths(self.length, 1, rng)[0])
        if self.rows is not None and len(self.rows):
            return max(1, int(self.rows[rng.integers(0, len(self.rows))]))
        return None
