"""Idle-feature series: present with vLLM's names, labels and buckets, and never non-zero."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from llmemu.service.metrics.idle import IdleFeatureCollector


def _samples():
    registry = CollectorRegistry()
    registry.register(IdleFeatureCollector("m", started_s=1000.0))
    text = generate_latest(registry).decode()
    return [s for f in text_string_to_metric_families(text) for s in f.samples]


def test_every_idle_series_is_zero_except_the_lora_timestamp():
    samples = _samples()
    lora = [s for s in samples if s.name == "vllm:lora_requests_info"]
    assert [(s.labels, s.value) for s in lora] == [
        ({"max_lora": "0", "running_lora_adapters": "", "waiting_lora_adapters": ""}, 1000.0)
    ]
    assert all(s.value == 0 for s in samples if s.name != "vllm:lora_requests_info")


def test_labels_and_buckets_as_vllm_defines_them():
    samples = _samples()
    stages = {s.labels["stage"] for s in samples if s.name == "vllm:num_requests_kv_fetch_by_stage"}
    assert stages == {"waiting_to_start", "in_progress", "completed_waiting"}
    # vLLM's NixlPromMetrics: xfer time uses buckets[1:] of 0.001, 0.005, ..., 5.0.
    xfer = [s.labels["le"] for s in samples if s.name == "vllm:nixl_xfer_time_seconds_bucket"]
    assert xfer[0] == "0.005" and xfer[-2:] == ["5.0", "+Inf"] and len(xfer) == 13
    ops = {s.labels["operation"] for s in samples if s.name == "vllm:sleep_mode_operation_duration_seconds_count"}  # fmt: skip
    assert ops == {"sleep", "release_kv_cache_memory", "wake"}
