"""A replica's batch size and KV usage integrated over time, for the load picture.

A replica's steps follow one another and most fall inside one bin of its BusySeries, so
the step's two numbers are summed here while they do and handed to the series once per
bin, rather than once per step.
"""

from __future__ import annotations

from typing import Any

from llmemu.core.busy_series import BusySeries


class LoadSeries:
    def __init__(self) -> None:
        self.series = BusySeries()
        self._lo = self._hi = 0.0
        """The bin that `_batch_s` and `_kv_s` belong to (empty: lo == hi)."""
        self._batch_s = self._kv_s = 0.0

    def add(self, start_s: float, end_s: float, batch: int, kv_usage: float) -> None:
        """A step from start_s to end_s with `batch` requests and the KV cache that full."""
        d = end_s - start_s
        if self._lo <= start_s and end_s <= self._hi:
            self._batch_s += batch * d
            self._kv_s += kv_usage * d
            return
        self._flush()
        series = self.series
        k = int(start_s / series.bin_s)
        lo, hi = k * series.bin_s, (k + 1) * series.bin_s
        if lo <= start_s and end_s <= hi and k < series.num_bins - 1 and d > 0:
            self._lo, self._hi = lo, hi
            self._batch_s, self._kv_s = batch * d, kv_usage * d
        else:
            series.add(start_s, end_s, {"batch": batch * d, "kv": kv_usage * d})

    def _flush(self) -> None:
        if self._hi > self._lo:
            mid = (self._lo + self._hi) / 2  # safely inside the bin, whatever the rounding
            self.series.add(mid, mid, {"batch": self._batch_s, "kv": self._kv_s})
            self._lo = self._hi = 0.0

    def to_dict(self, span_s: float) -> dict[str, Any]:
        self._flush()
        return self.series.to_dict(span_s)
