"""The vLLM series carry vLLM 0.33's names, types, labels and buckets, as listed in
vllm/v1/metrics/loggers.py (copied here by hand, not from our code)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_helpers import in_process, make_app

pytestmark = pytest.mark.anyio

TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]  # fmt: skip
ITL = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0]  # fmt: skip
LATENCY = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]  # fmt: skip
ITERATION = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
TOKENS_8192 = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]  # 1-2-5 up to max_model_len

HISTOGRAMS = {
    "vllm:time_to_first_token_seconds": TTFT,
    "vllm:inter_token_latency_seconds": ITL,
    "vllm:request_time_per_output_token_seconds": ITL,
    "vllm:e2e_request_latency_seconds": LATENCY,
    "vllm:request_queue_time_seconds": LATENCY,
    "vllm:request_inference_time_seconds": LATENCY,
    "vllm:request_prefill_time_seconds": LATENCY,
    "vllm:request_decode_time_seconds": LATENCY,
    "vllm:iteration_tokens_total": ITERATION,
    "vllm:request_prompt_tokens": TOKENS_8192,
    "vllm:request_generation_tokens": TOKENS_8192,
    "vllm:request_max_num_generation_tokens": TOKENS_8192,
    "vllm:request_params_max_tokens": TOKENS_8192,
    "vllm:request_prefill_kv_computed_tokens": TOKENS_8192,
    "vllm:request_params_n": [1, 2, 5, 10, 20],
    "vllm:request_num_preemptions": [1, 2, 3, 4, 5, 10, 20],
}
# prometheus_client names a counter family without its _total suffix.
COUNTERS = ["vllm:num_preemptions", "vllm:prompt_tokens", "vllm:generation_tokens",
            "vllm:prompt_tokens_by_source", "vllm:prompt_tokens_cached",
            "vllm:prompt_tokens_cached_by_source", "vllm:prefix_cache_queries",
            "vllm:prefix_cache_hits", "vllm:request_success", "vllm:admission_rejections"]  # fmt: skip
GAUGES = ["vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
          "vllm:num_requests_waiting_by_reason", "vllm:engine_sleep_state", "vllm:cache_config_info"]  # fmt: skip


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_names_types_labels_and_buckets_are_vllms():
    async with in_process(make_app(served_model_name="m")) as c:
        text = (await c.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, buckets in HISTOGRAMS.items():
        family = families[name]
        assert family.type == "histogram", name
        les = [float(s.labels["le"]) for s in family.samples if s.name.endswith("_bucket")]
        assert les == [*map(float, buckets), float("inf")], name
        assert {(s.labels["model_name"], s.labels["engine"]) for s in family.samples} == {("m", "0")}  # fmt: skip
    for name in COUNTERS:
        assert families[name].type == "counter", name
    for name in GAUGES:
        assert families[name].type == "gauge", name
    reasons = {s.labels["finished_reason"] for s in families["vllm:request_success"].samples}
    assert reasons == {"stop", "length", "abort", "error", "repetition"}  # all five exist at 0
    rejections = families["vllm:admission_rejections"].samples[0].labels
    assert set(rejections) == {"model_name", "reason"}  # no engine label on this one
