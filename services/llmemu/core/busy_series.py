"""Busy time of each processor over virtual time, in bins of bounded number.

A run's length is not known in advance, so the bins start narrow and double in width (each
pair merges) whenever a step ends past the last bin: memory stays at `num_bins` floats per
processor however long the run, and the resolution is the finest that fits it. A step's
busy seconds are spread evenly over the step's interval, so a fused run of iterations that
spans several bins credits each bin with its share.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class BusySeries:
    def __init__(self, num_bins: int = 128, bin_s: float = 0.01) -> None:
        if num_bins < 2 or num_bins % 2:
            raise ValueError(f"num_bins {num_bins} must be an even number of at least 2")
        self.num_bins = num_bins
        self.bin_s = bin_s
        self.bins: dict[str, list[float]] = {}
        """Python lists: adding to one bin per step is several times cheaper than on numpy."""

    def add(self, start_s: float, end_s: float, busy_s: dict[str, float]) -> None:
        """Credit `busy_s[processor]` seconds of work done between start_s and end_s."""
        while end_s > self.bin_s * self.num_bins:
            self._coarsen()
        first = int(start_s / self.bin_s)
        last = int(end_s / self.bin_s)
        if first == last and last < self.num_bins:  # most steps: inside one bin
            for name, seconds in busy_s.items():
                self._row(name)[first] += seconds
            return
        first, last = min(first, self.num_bins - 1), min(last, self.num_bins - 1)
        duration = end_s - start_s
        for name, seconds in busy_s.items():
            row = self._row(name)
            if first == last or duration <= 0:
                row[first] += seconds
                continue
            for k in range(first, last + 1):
                overlap = min(end_s, (k + 1) * self.bin_s) - max(start_s, k * self.bin_s)
                row[k] += seconds * max(0.0, overlap) / duration

    def _row(self, name: str) -> list[float]:
        row = self.bins.get(name)
        if row is None:
            row = self.bins[name] = [0.0] * self.num_bins
        return row

    def _coarsen(self) -> None:
        self.bin_s *= 2
        for name, row in self.bins.items():
            merged = [row[i] + row[i + 1] for i in range(0, self.num_bins, 2)]
            self.bins[name] = merged + [0.0] * (self.num_bins // 2)

    def to_dict(self, span_s: float) -> dict[str, Any]:
        """Utilisation (busy / bin width, 0..1 per device) of each bin up to `span_s`; the
        last bin is divided by the part of it the run covered."""
        if span_s <= 0:
            return {"bin_s": self.bin_s, "t_s": [], "utilization": {}}
        count = min(self.num_bins, int(np.ceil(span_s / self.bin_s)))
        starts = np.arange(count) * self.bin_s
        widths = np.minimum(starts + self.bin_s, span_s) - starts
        return {
            "bin_s": self.bin_s,
            "t_s": starts.tolist(),
            "utilization": {
                name: (np.asarray(row[:count]) / widths).tolist()
                for name, row in sorted(self.bins.items())
            },
        }
