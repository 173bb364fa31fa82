"""The dashboard's numbers: Prometheus-style quantiles from buckets, rates over a window."""

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from llmemu.service.dashboard.state import DashboardSampler, bucket_quantile

BUCKETS = [(0.01, 2.0), (0.02, 6.0), (0.05, 10.0), (math.inf, 10.0)]


def test_quantile_interpolates_inside_the_bucket() -> None:
    # p50: rank 5 of 10 falls in (0.01, 0.02], which holds ranks 3..6: 0.01 + 0.01 * 3/4.
    assert bucket_quantile(0.5, BUCKETS) == pytest.approx(0.0175)
    # p99: rank 9.9 in (0.02, 0.05], ranks 7..10: 0.02 + 0.03 * 3.9/4 = 0.04925.
    assert bucket_quantile(0.99, BUCKETS) == pytest.approx(0.04925)


def test_quantile_in_the_inf_bucket_is_the_highest_bound_and_empty_is_none() -> None:
    assert bucket_quantile(0.99, [(0.01, 1.0), (math.inf, 10.0)]) == 0.01
    assert bucket_quantile(0.5, [(0.01, 0.0), (math.inf, 0.0)]) is None


def test_rates_and_quantiles_between_snapshots() -> None:
    registry = CollectorRegistry()
    labels = {"model_name": "m", "engine": "0"}
    success = Counter("vllm:request_success", "", [*labels, "finished_reason"], registry=registry)
    ttft = Histogram("vllm:time_to_first_token_seconds", "", list(labels),
                     buckets=(0.01, 0.02, 0.05), registry=registry).labels(**labels)  # fmt: skip
    busy = Counter("llmemu_device_busy_seconds", "", ["processor"], registry=registry)
    waiting = Gauge("vllm:num_requests_waiting", "", list(labels), registry=registry)
    clock = {"emulated": 0.0, "wall": 0.0}
    sampler = DashboardSampler(
        registry, lambda: clock["emulated"], wall=lambda: clock["wall"], min_interval_s=0.5
    )
    sampler.sample()  # t = 0: nothing yet
    success.labels(**labels, finished_reason="stop").inc(6)
    success.labels(**labels, finished_reason="length").inc(4)
    for value in (0.005, 0.005, 0.015, 0.015, 0.015, 0.015, 0.03, 0.03, 0.03, 0.03):
        ttft.observe(value)  # the BUCKETS above: 2, 6 and 10 cumulative
    busy.labels(processor="xpu").inc(1.5)
    waiting.labels(**labels).set(3)
    clock.update(emulated=2.0, wall=0.2)
    sampler.sample()  # under min_interval_s of wall time after the first: skipped
    assert len(sampler.snaps) == 1
    clock.update(wall=1.0)
    data = sampler.data()
    s = data["series"]
    assert s["t_s"] == [2.0]
    assert s["requests_per_s"] == [pytest.approx(10 / 2.0)]  # both reasons, over 2 s
    assert s["utilization"] == {"xpu": [pytest.approx(1.5 / 2.0)]}
    assert s["ttft_p50_s"] == [pytest.approx(0.0175)]
    assert s["ttft_p99_s"] == [pytest.approx(0.04925)]
    assert s["waiting"] == [3.0]
    assert s["itl_p50_s"] == [None]  # no inter-token latency observed
