"""vLLM's engine metrics (vllm/v1/metrics/loggers.py, 0.33): same names, types, labels and
buckets, observed at the same moments.

Latencies are emulated seconds: they are what the emulated hardware would show. Gauges are
read from the scheduler at scrape time (ServingState in metrics_state.py).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from llmemu.core.engine import StepResult
from llmemu.core.request import Request
from llmemu.protocol.internal import SubmitSequence
from llmemu.service.metrics.histogram import FastHistogram, Series

TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)  # fmt: skip
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
               7.5, 10.0, 20.0, 40.0, 80.0)  # fmt: skip
LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
                   60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)  # fmt: skip
ITERATION_TOKEN_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
FINISHED_REASONS = ("stop", "length", "abort", "error", "repetition")
LABELS = ("model_name", "engine")


def buckets_1_2_5(limit: int) -> list[int]:
    """vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ... while <= limit."""
    out, exp = [], 0
    while True:
        for m in (1, 2, 5):
            value = m * 10**exp
            if value > limit:
                return out
            out.append(value)
        exp += 1


class VllmMetrics:
    """The `vllm:` series of one engine (labels model_name, engine="0")."""

    def __init__(self, registry: CollectorRegistry, model_name: str, max_model_len: int) -> None:
        labels = {"model_name": model_name, "engine": "0"}

        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, LABELS, registry=registry).labels(**labels)

        # FastHistogram, not prometheus_client's Histogram: the same samples, at a fifth of
        # the cost per observation. A wave of finishing requests observes a dozen each, on
        # the engine loop between two iterations' tokens.
        def hist(name: str, doc: str, buckets) -> Series:
            family = FastHistogram(name, doc, LABELS, buckets)
            registry.register(family)
            self.families[name] = family
            return family.labels(model_name, "0")

        self.families: dict[str, FastHistogram] = {}
        """The histogram collectors by name (a scrape reads them; observe their series)."""

        tokens = buckets_1_2_5(max_model_len)
        self.preemptions = counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.")  # fmt: skip
        self.prompt_tokens = counter("vllm:prompt_tokens", "Number of prefill tokens processed.")
        self.generation_tokens = counter("vllm:generation_tokens", "Number of generation tokens processed.")  # fmt: skip
        by_source = Counter("vllm:prompt_tokens_by_source", "Number of prompt tokens by source.", (*LABELS, "source"), registry=registry)  # fmt: skip
        self.prompt_local = by_source.labels(**labels, source="local_compute")
        self.prompt_cache_hit = by_source.labels(**labels, source="local_cache_hit")
        by_source.labels(**labels, source="external_kv_transfer")
        self.prompt_cached = counter("vllm:prompt_tokens_cached", "Number of cached prompt tokens.")  # fmt: skip
        cached_by_source = Counter("vllm:prompt_tokens_cached_by_source", "Number of cached prompt tokens by source.", (*LABELS, "source"), registry=registry)  # fmt: skip
        for source in ("device", "host", "disk", "p2p", "external_unspecified"):
            cached_by_source.labels(**labels, source=source)
        self.prompt_cached_device = cached_by_source.labels(**labels, source="device")
        self.prefix_queries = counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.")  # fmt: skip
        self.prefix_hits = counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.")  # fmt: skip
        success = Counter("vllm:request_success", "Count of successfully processed requests.", (*LABELS, "finished_reason"), registry=registry)  # fmt: skip
        self.success = {r: success.labels(**labels, finished_reason=r) for r in FINISHED_REASONS}
        rejections = Counter("vllm:admission_rejections", "Requests rejected at admission because the waiting queue was full.", ("model_name", "reason"), registry=registry)  # fmt: skip
        self.rejections = rejections.labels(model_name=model_name, reason="max_num_queued_reqs")
        rejections.labels(model_name=model_name, reason="max_num_queued_tokens")
        self.req_prompt = hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", tokens)  # fmt: skip
        self.req_generation = hist("vllm:request_generation_tokens", "Number of generation tokens processed.", tokens)  # fmt: skip
        self.req_max_generation = hist("vllm:request_max_num_generation_tokens", "Histogram of maximum number of requested generation tokens.", tokens)  # fmt: skip
        self.params_max_tokens = hist("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", tokens)  # fmt: skip
        self.params_n = hist("vllm:request_params_n", "Histogram of the n request parameter.", (1, 2, 5, 10, 20))  # fmt: skip
        self.prefill_kv = hist("vllm:request_prefill_kv_computed_tokens", "Histogram of new KV tokens computed during prefill (excluding cached tokens).", tokens)  # fmt: skip
        self.iteration_tokens = hist("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", ITERATION_TOKEN_BUCKETS)  # fmt: skip
        self.ttft = hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS)  # fmt: skip
        # Observed once per token: the cheap kind, fed a whole iteration's equal gaps at once.
        itl = FastHistogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", LABELS, ITL_BUCKETS)  # fmt: skip
        registry.register(itl)
        self.itl_family = itl
        """The collector (a scrape reads it); `itl` is its one series."""
        self.itl = itl.labels(model_name, "0")
        self.tpot = hist("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.", ITL_BUCKETS)  # fmt: skip
        self.e2e = hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", LATENCY_BUCKETS)  # fmt: skip
        self.queue = hist("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", LATENCY_BUCKETS)  # fmt: skip
        self.inference = hist("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", LATENCY_BUCKETS)  # fmt: skip
        self.prefill = hist("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", LATENCY_BUCKETS)  # fmt: skip
        self.decode = hist("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", LATENCY_BUCKETS)  # fmt: skip
        self.req_preemptions = hist("vllm:request_num_preemptions", "Number of preemptions per request.", (1, 2, 3, 4, 5, 10, 20))  # fmt: skip

    # ---- engine moments ---------------------------------------------------------------
    def on_step(self, result: StepResult) -> None:
        self.iteration_tokens.observe(sum(n for _, n in result.scheduled.entries))
        self.generation_tokens.inc(len(result.emitted))
        if result.scheduled.preempted:
            self.preemptions.inc(len(result.scheduled.preempted))

    def on_first_token(self, req: Request) -> None:
        self.ttft.observe(req.first_token_s - req.arrival_s)
        cached = req.cached_tokens
        self.prompt_tokens.inc(req.prompt_tokens)
        self.prompt_local.inc(req.prompt_tokens - cached)
        self.prefix_queries.inc(req.prompt_tokens)
        if cached:
            self.prefix_hits.inc(cached)
            self.prompt_cache_hit.inc(cached)
            self.prompt_cached.inc(cached)
            self.prompt_cached_device.inc(cached)

    def on_tokens(self, gap_s: float, count: int) -> None:
        """`count` tokens that each came `gap_s` after their sequence's previous one."""
        self.itl.observe_many(gap_s, count)

    def on_finish(self, req: Request, seq: SubmitSequence, reason: str) -> None:
        self.success[reason].inc()
        if reason in ("abort", "error") or req.first_token_s is None:
            return  # latencies describe completed requests only
        end_s = req.last_token_s if req.last_token_s is not None else req.arrival_s
        self.e2e.observe(end_s - req.arrival_s)
        self.req_prompt.observe(req.prompt_tokens)
        self.req_generation.observe(req.generated)
        self.prefill_kv.observe(req.prompt_tokens - req.cached_tokens)
        self.params_n.observe(seq.params_n)
        self.req_max_generation.observe(seq.params_max_tokens or req.max_output_tokens)
        if seq.params_max_tokens is not None:
            self.params_max_tokens.observe(seq.params_max_tokens)
        self.req_preemptions.observe(req.num_preemptions)
        scheduled = req.first_scheduled_s if req.first_scheduled_s is not None else req.arrival_s
        self.queue.observe(scheduled - req.arrival_s)
        self.inference.observe(end_s - scheduled)
        self.prefill.observe(req.first_token_s - scheduled)
        self.decode.observe(end_s - req.first_token_s)
        if req.generated > 1:
            self.tpot.observe((end_s - req.first_token_s) / (req.generated - 1))
