"""vLLM series of components the emulated server has but never uses, exported as vLLM
exports them when the component exists and does nothing: counters at 0 with their usual
labels, histograms with no observations, gauges at 0, and the LoRA info gauge with no
adapters. Nothing here ever moves: the emulator does not model these features.

- LoRA (`vllm:lora_requests_info`, max_lora 0, no running or waiting adapters);
- speculative decoding (`vllm:spec_decode_num_{drafts,draft_tokens,accepted_tokens}`);
- KV connectors: NIXL transfers, KV offload (offloading and simple CPU connectors), the
  external prefix cache, and async KV fetches (`vllm:num_requests_kv_fetch_by_stage`);
- the multimodal cache (`vllm:mm_cache_*`: no multimodal inputs);
- sleep mode (`vllm:sleep_mode_operation_duration_seconds`, no operation done).

vLLM creates the labelled children of the sleep-mode histogram on first use; they are
pre-created here so that `sum by (operation)` shows the zero. Buckets are vLLM's where the
reference gives them (NIXL, sleep mode); the KV-offload size and lookup-delay histograms,
whose buckets the reference does not list, use prometheus_client's defaults. The scheduler
owns all of these (engine series); the embedded server exports them too.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from llmemu.service.metrics.vllm import LABELS

NIXL_TIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 5.0)
NIXL_POST_BUCKETS = (0.001, *NIXL_TIME_BUCKETS)
NIXL_BYTES_BUCKETS = tuple(2 ** (10 + i) for i in range(1, 25, 2))  # 2 KiB .. 8 GiB
NIXL_DESCRIPTOR_BUCKETS = (10, 20, 30, 50, 75, 100, 200, 400, 1000, 2000, 4000, 10000,
                           20000, 50000)  # fmt: skip
SLEEP_BUCKETS = (0.01, 0.1, 1, 10, 30, 60, 120, 300, 600)
SLEEP_OPERATIONS = ("sleep", "release_kv_cache_memory", "wake")
DEFAULT_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)  # fmt: skip  (prometheus_client's Histogram default)
KV_FETCH_STAGES = ("waiting_to_start", "in_progress", "completed_waiting")
SAVE_OUTCOMES = ("stored", "dropped_cpu_full", "dropped_request_gone", "dropped_null_block",
                 "dropped_not_hashed")  # fmt: skip

COUNTERS = (
    "spec_decode_num_drafts", "spec_decode_num_draft_tokens", "spec_decode_num_accepted_tokens",
    "external_prefix_cache_queries", "external_prefix_cache_hits",
    "mm_cache_queries", "mm_cache_hits",
    "nixl_num_failed_transfers", "nixl_num_failed_notifications", "nixl_num_kv_expired_reqs",
    "nixl_num_notifications_after_expiry",
    "kv_offload_load_bytes", "kv_offload_store_bytes", "kv_offload_load_time",
    "kv_offload_store_time", "kv_offload_allocation_failure", "kv_offload_stores_skipped",
    "simple_kv_offload_load_blocks",
)  # fmt: skip
GAUGES = (
    "kv_offload_cpu_cache_usage_perc", "kv_offload_cpu_cache_write_usage_perc",
    "kv_offload_cpu_cache_read_usage_perc", "simple_kv_offload_used_blocks",
    "simple_kv_offload_pending_store_blocks",
)  # fmt: skip
HISTOGRAMS = (
    ("nixl_xfer_time_seconds", NIXL_TIME_BUCKETS),
    ("nixl_post_time_seconds", NIXL_POST_BUCKETS),
    ("nixl_bytes_transferred", NIXL_BYTES_BUCKETS),
    ("nixl_num_descriptors", NIXL_DESCRIPTOR_BUCKETS),
    ("kv_offload_load_size", DEFAULT_BUCKETS),
    ("kv_offload_store_size", DEFAULT_BUCKETS),
    ("kv_offload_lookup_sync_delay_seconds", DEFAULT_BUCKETS),
    ("kv_offload_lookup_async_delay_seconds", DEFAULT_BUCKETS),
)
IDLE = "(feature not modelled by the emulator: always 0)"


def _empty_histogram(name: str, labels: list[str], values: list[str], buckets) -> Metric:
    family = HistogramMetricFamily(name, f"{name} {IDLE}", labels=labels)
    family.add_metric(values, [(str(float(b)), 0.0) for b in buckets] + [("+Inf", 0.0)], 0.0)
    return family


class IdleFeatureCollector:
    """The zero series; `started_s` is the epoch second the server started (the LoRA info
    gauge's value is a timestamp in vLLM)."""

    def __init__(self, model_name: str, started_s: float) -> None:
        self.base, self.started_s = [model_name, "0"], started_s

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        labels = list(LABELS)
        for short in COUNTERS:
            family = CounterMetricFamily(f"vllm:{short}", f"vllm:{short} {IDLE}", labels=labels)
            family.add_metric(self.base, 0.0)
            yield family
        for short in GAUGES:
            family = GaugeMetricFamily(f"vllm:{short}", f"vllm:{short} {IDLE}", labels=labels)
            family.add_metric(self.base, 0.0)
            yield family
        for short, buckets in HISTOGRAMS:
            yield _empty_histogram(f"vllm:{short}", labels, self.base, buckets)
        yield from self._labelled()

    def _labelled(self) -> Iterator[Metric]:
        lora = GaugeMetricFamily("vllm:lora_requests_info", f"Running stats on lora requests {IDLE}", labels=["max_lora", "running_lora_adapters", "waiting_lora_adapters"])  # fmt: skip
        lora.add_metric(["0", "", ""], self.started_s)
        yield lora
        fetch = GaugeMetricFamily("vllm:num_requests_kv_fetch_by_stage", f"Requests fetching remote KV, by stage {IDLE}", labels=[*LABELS, "stage"])  # fmt: skip
        for stage in KV_FETCH_STAGES:
            fetch.add_metric([*self.base, stage], 0.0)
        yield fetch
        saves = CounterMetricFamily("vllm:simple_kv_offload_save_outcomes", f"Store decisions by outcome {IDLE}", labels=[*LABELS, "outcome"])  # fmt: skip
        for outcome in SAVE_OUTCOMES:
            saves.add_metric([*self.base, outcome], 0.0)
        yield saves
        sleep = HistogramMetricFamily("vllm:sleep_mode_operation_duration_seconds", f"Duration of one sleep-mode operation {IDLE}", labels=["operation"])  # fmt: skip
        for op in SLEEP_OPERATIONS:
            sleep.add_metric([op], [(str(float(b)), 0.0) for b in SLEEP_BUCKETS] + [("+Inf", 0.0)], 0.0)  # fmt: skip
        yield sleep
