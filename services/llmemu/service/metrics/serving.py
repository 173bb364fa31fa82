"""Every metric the server exports, defined once: the vLLM engine series, our `llmemu_`
series, scheduler gauges read at scrape time, and the HTTP series of
prometheus-fastapi-instrumentator (what vLLM itself attaches). All go to one injected
CollectorRegistry, so two servers in one process never share a series."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from llmemu.core.engine import StepResult
from llmemu.core.request import Request
from llmemu.protocol.internal import SubmitSequence
from llmemu.service.metrics.idle import IdleFeatureCollector
from llmemu.service.metrics.kv_blocks import KvBlockResidency
from llmemu.service.metrics.lag import DEFAULT_BOUND_S, LagCollector, LagMonitor
from llmemu.service.metrics.llmemu import DashboardTotals, LlmemuMetrics
from llmemu.service.metrics.timings import TimingLog
from llmemu.service.metrics.vllm import LABELS, VllmMetrics

# Paths vLLM leaves out of its HTTP metrics (ecosystem.md 2.4).
HTTP_EXCLUDED = ("/metrics", "/health", "/load", "/ping", "/version", "/server_info")


@dataclass(frozen=True, slots=True)
class EngineGauges:
    num_waiting: int
    num_running: int
    kv_cache_usage: float


class ServingMetrics:
    """The EngineObserver of the scheduler service, plus the gateway's pacing-lag hook."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        model_name: str,
        max_model_len: int,
        speed: float,
        cache_config: dict[str, str],
        gauges: Callable[[], EngineGauges],
        lag_bound_s: float = DEFAULT_BOUND_S,
    ) -> None:
        self.registry = registry
        self.vllm = VllmMetrics(registry, model_name, max_model_len)
        self.own = LlmemuMetrics(registry, model_name, speed)
        self._gauges = _GaugeCollector(model_name, cache_config, gauges)
        registry.register(self._gauges)
        registry.register(IdleFeatureCollector(model_name, started_s=time.time()))
        self.kv_blocks = KvBlockResidency(model_name, int(cache_config["block_size"]))
        registry.register(self.kv_blocks)
        self.lag = LagMonitor(speed, lag_bound_s)
        self._lag = LagCollector(self.lag, model_name)
        registry.register(self._lag)
        self.timings = TimingLog()

    def dashboard_collectors(self) -> list:
        """The collectors of what /dashboard draws (a cheap subset of the registry)."""
        v = self.vllm
        return [*v.success.values(), v.generation_tokens, v.families["vllm:time_to_first_token_seconds"], v.itl_family, self._gauges, DashboardTotals(self.own.totals), self._lag]  # fmt: skip

    def on_step(self, result: StepResult, start_s: float, end_s: float) -> None:
        self.vllm.on_step(result)
        self.own.on_step(result)
        self.kv_blocks.on_step(result, start_s, end_s)

    def on_first_token(self, req: Request) -> None:
        self.vllm.on_first_token(req)

    def on_tokens(self, gap_s: float, count: int) -> None:
        self.vllm.on_tokens(gap_s, count)
        self.timings.gaps.fill(gap_s, count)

    def on_finish(self, req: Request, seq: SubmitSequence, reason: str) -> None:
        self.vllm.on_finish(req, seq, reason)
        if reason in ("abort", "error"):  # a finished request's blocks go back in on_step
            self.kv_blocks.on_abort(req)
        elif req.first_token_s is not None:  # what vLLM's latency histograms observe
            self._record(req)

    def _record(self, req: Request) -> None:
        end_s = req.last_token_s if req.last_token_s is not None else req.first_token_s
        scheduled = req.first_scheduled_s if req.first_scheduled_s is not None else req.arrival_s
        tpot_s = (
            (end_s - req.first_token_s) / (req.generated - 1) if req.generated > 1 else math.nan
        )
        self.timings.on_request(req.first_token_s - req.arrival_s, tpot_s, end_s - req.arrival_s, scheduled - req.arrival_s)  # fmt: skip

    def on_pacing_lag(self, lag_s: float) -> None:
        self.timings.lags.append(self.lag.observe(lag_s))

    def on_emission_lag(self, lag_s: float) -> None:
        self.own.lag.observe(abs(lag_s))  # early or late: both are errors


class _GaugeCollector:
    def __init__(
        self, model_name: str, cache_config: dict[str, str], gauges: Callable[[], EngineGauges]
    ) -> None:
        self.base = [model_name, "0"]
        self.cache_config = cache_config
        self.gauges = gauges

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        g = self.gauges()
        for name, doc, value in (
            (
                "vllm:num_requests_running",
                "Number of requests in model execution batches.",
                g.num_running,
            ),  # fmt: skip
            (
                "vllm:num_requests_waiting",
                "Number of requests waiting to be processed.",
                g.num_waiting,
            ),  # fmt: skip
            (
                "vllm:kv_cache_usage_perc",
                "KV-cache usage. 1 means 100 percent usage.",
                g.kv_cache_usage,
            ),  # fmt: skip
        ):
            family = GaugeMetricFamily(name, doc, labels=list(LABELS))
            family.add_metric(self.base, value)
            yield family
        # Every waiting request waits for capacity: nothing is deferred by policy here.
        by_reason = GaugeMetricFamily("vllm:num_requests_waiting_by_reason", "Number of requests waiting, by reason.", labels=[*LABELS, "reason"])  # fmt: skip
        by_reason.add_metric([*self.base, "capacity"], g.num_waiting)
        by_reason.add_metric([*self.base, "deferred"], 0)
        yield by_reason
        sleep = GaugeMetricFamily("vllm:engine_sleep_state", "Engine sleep state; awake = 0 means engine is sleeping; awake = 1 means engine is awake.", labels=[*LABELS, "sleep_state"])  # fmt: skip
        for state, value in (("awake", 1), ("weights_offloaded", 0), ("discard_all", 0)):
            sleep.add_metric([*self.base, state], value)
        yield sleep
        names = sorted(self.cache_config)
        info = GaugeMetricFamily("vllm:cache_config_info", "Information of the LLMEngine CacheConfig", labels=[*names, "engine"])  # fmt: skip
        info.add_metric([self.cache_config[k] for k in names] + ["0"], 1)
        yield info
