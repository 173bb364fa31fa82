"""FastHistogram writes what prometheus_client's Histogram writes for the same observations."""

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from serve_helpers import make_app

from llmemu.service.dashboard.state import Collectors, read_registry
from llmemu.service.metrics.histogram import FastHistogram

BOUNDS = (0.01, 0.025, 0.05, 1.0)
LABELS = {"model_name": "m", "engine": "0"}


def _text(registry: CollectorRegistry) -> list[str]:
    """The exposition without the _created line (a wall-clock timestamp)."""
    return [line for line in generate_latest(registry).decode().splitlines() if "_created{" not in line]  # fmt: skip


def test_same_exposition_as_prometheus_client() -> None:
    # 0.01 sits on a bound (le is <=), 0.02 in the second bucket, 7 past the last bound.
    values = [0.01, 0.02, 0.02, 0.3, 7.0]
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    family = FastHistogram("vllm:inter_token_latency_seconds", "Doc.", list(LABELS), BOUNDS)
    ours.register(family)
    fast = family.labels(*LABELS.values())
    slow = Histogram("vllm:inter_token_latency_seconds", "Doc.", list(LABELS), buckets=BOUNDS, registry=theirs).labels(**LABELS)  # fmt: skip
    fast.observe(0.01)
    fast.observe_many(0.02, 2)
    fast.observe(0.3)
    fast.observe(7.0)
    for v in values:
        slow.observe(v)
    assert _text(ours) == _text(theirs)
    # By hand: buckets 0.01 -> 1, 0.025 -> 3, 0.05 -> 3, 1.0 -> 4, +Inf -> 5; sum 7.35.
    text = "\n".join(_text(ours))
    assert 'le="0.025",model_name="m"} 3.0' in text
    assert 'vllm:inter_token_latency_seconds_count{engine="0",model_name="m"} 5.0' in text
    assert abs(fast.sum - 7.35) < 1e-12
    created = [line for line in generate_latest(ours).decode().splitlines() if line.startswith("vllm:inter_token_latency_seconds_created{")]  # fmt: skip
    assert len(created) == 1


def test_several_label_sets_come_out_in_the_order_they_were_first_used() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    names = ["model_name", "kind"]
    family = FastHistogram("llmemu_op_intensity_flops_per_byte", "Doc.", names, BOUNDS)
    ours.register(family)
    slow = Histogram("llmemu_op_intensity_flops_per_byte", "Doc.", names, buckets=BOUNDS, registry=theirs)  # fmt: skip
    for kind, value in (("gemm", 0.5), ("attention", 0.02), ("gemm", 0.04)):
        family.labels("m", kind).observe(value)
        slow.labels("m", kind).observe(value)
    assert _text(ours) == _text(theirs)


def test_the_dashboard_reads_the_inter_token_latency_series() -> None:
    metrics = make_app().state.scheduler.observer
    metrics.on_tokens(0.02, 3)  # three tokens 20 ms after their previous ones
    snap = read_registry(Collectors(metrics.dashboard_collectors()), 1.0)
    # ITL buckets (vLLM's): 0.01 holds none, 0.025 and every bound above it all three.
    itl = dict(snap.buckets["itl"])
    assert (itl[0.01], itl[0.025], itl[float("inf")]) == (0.0, 3.0, 3.0)
