"""A labelled histogram for the per-token series, exported exactly as prometheus_client's.

prometheus_client's Histogram.observe takes a lock twice and scans the bounds in Python: a
few microseconds, paid once per token per stream on the path that hands tokens out. This one
is a bisect and two additions (the event loop is its only writer, and a scrape runs on the
same loop), and `observe_many` records `count` equal values at once: the tokens of one
iteration share their inter-token gap. Its samples (buckets, count, sum, created) are the
ones prometheus_client writes for a Histogram child with the same name, labels and bounds.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString


class Series:
    """One label set's buckets and sum."""

    __slots__ = ("bounds", "counts", "sum", "created")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.created = time.time()

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # le: value <= bound
        self.sum += value

    def observe_many(self, value: float, count: int) -> None:
        self.counts[bisect_left(self.bounds, value)] += count
        self.sum += value * count


class FastHistogram:
    """A labelled histogram family; `labels(...)` gives a Series to observe. A collector to
    register on a CollectorRegistry."""

    def __init__(self, name: str, doc: str, label_names: Sequence[str], bounds: Sequence[float]) -> None:  # fmt: skip
        self.name, self.doc = name, doc
        self.label_names = list(label_names)
        self.bounds = tuple(float(b) for b in bounds)
        self._les = (*map(floatToGoString, self.bounds), "+Inf")
        self._series: dict[tuple[str, ...], Series] = {}

    def labels(self, *values: str) -> Series:
        series = self._series.get(values)
        if series is None:
            if len(values) != len(self.label_names):
                raise ValueError(f"{self.name}: {len(values)} label values for labels {self.label_names}")  # fmt: skip
            series = self._series[values] = Series(self.bounds)
        return series

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.doc, labels=self.label_names)
        for values, series in self._series.items():
            cumulative, buckets = 0.0, []
            for le, n in zip(self._les, series.counts, strict=True):
                cumulative += n
                buckets.append((le, cumulative))
            family.add_metric(list(values), buckets, series.sum)
            labels = dict(zip(self.label_names, values, strict=True))
            family.add_sample(f"{self.name}_created", labels, series.created)
        yield family
