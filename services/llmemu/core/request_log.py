"""What the summary needs of each finished request, in compact arrays.

A finished request leaves eight numbers (64 bytes) here and the engine drops it, so memory
follows the requests in flight plus 64 bytes per finished one (64 MB for a million), and the
summary's percentiles stay exact (computed over these arrays, as over the requests).
"""

from __future__ import annotations

from array import array

import numpy as np

from llmemu.core.request import Request

FIELDS = ("arrival_s", "first_scheduled_s", "first_token_s", "finish_s")
COUNTS = ("id", "prompt_tokens", "generated", "num_preemptions")


class RequestLog:
    def __init__(self, *, in_arrival_order: bool = False) -> None:
        self.in_arrival_order = in_arrival_order
        """True when requests are added in the order they arrived (else sorted by id)."""
        self._floats = {name: array("d") for name in FIELDS}
        self._ints = {name: array("q") for name in COUNTS}
        self._sorted: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self._ints["id"])

    def add(self, req: Request) -> None:
        f, i = self._floats, self._ints
        i["id"].append(req.id)
        f["arrival_s"].append(req.arrival_s)
        f["first_scheduled_s"].append(req.first_scheduled_s or 0.0)
        f["first_token_s"].append(req.first_token_s or 0.0)
        f["finish_s"].append(req.finish_s or 0.0)
        i["prompt_tokens"].append(req.prompt_tokens)
        i["generated"].append(req.generated)
        i["num_preemptions"].append(req.num_preemptions)

    def column(self, name: str) -> np.ndarray:
        """One field of every logged request, in the order they arrived."""
        if name in self._floats:
            values = np.frombuffer(self._floats[name], np.float64)
        else:
            values = np.frombuffer(self._ints[name], np.int64)
        return values if self.in_arrival_order else values[self._order()]

    @classmethod
    def from_columns(cls, columns: dict[str, bytes]) -> RequestLog:
        """A log from each field's machine bytes (float64 and int64), in any order."""
        log = cls()
        log.extend(columns)
        return log

    def extend(self, columns: dict[str, bytes], ids: bytes | None = None) -> None:
        """Rows given as each field's machine bytes; `ids` in place of `columns["id"]`."""
        for name in FIELDS:
            self._floats[name].frombytes(columns[name])
        for name in COUNTS:
            self._ints[name].frombytes(ids if name == "id" and ids is not None else columns[name])

    @classmethod
    def of(cls, requests) -> RequestLog:
        """The finished ones of `requests`, in their order."""
        log = cls(in_arrival_order=True)
        for req in requests:
            if req.finish_s is not None:
                log.add(req)
        return log

    def _order(self) -> np.ndarray:
        """Positions in id order; sorted again only after the log grew (a summary reads
        a dozen columns of a million rows)."""
        ids = self._ints["id"]
        cached = self._sorted
        if cached is None or cached[0] != len(ids):
            cached = self._sorted = (len(ids), np.argsort(np.frombuffer(ids, np.int64), kind="stable"))  # fmt: skip
        return cached[1]

    def csv_lines(self):
        """A header, then one line per finished request (`simulate --requests-out`)."""
        names = ["id", *FIELDS, *COUNTS[1:]]
        cols = [self.column(n).tolist() for n in names]
        yield ",".join(names)
        for row in zip(*cols, strict=True):
            yield ",".join(repr(v) for v in row)
