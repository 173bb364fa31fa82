"""A live fleet's metrics: every replica keeps its own engine series (a registry of its own,
the one its --replica-ports endpoint serves), and the fleet's /metrics carries each of them
with vLLM's labels plus `replica`, next to the gateway's HTTP and process series.

The gateway's ServingMetrics still observes every replica's engine (the dashboard, the
timings endpoint and the llmemu_ series describe the whole fleet); only its `vllm:` families
are left out of the fleet's /metrics, where the per-replica ones stand instead."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.samples import Sample

from llmemu.service.metrics.serving import EngineGauges, ServingMetrics

ENGINE_PREFIX = "vllm:"
REPLICA_LABEL = "replica"


def replica_metrics(member, fleet: ServingMetrics, model_name: str, max_model_len: int, cache_config: dict[str, str]) -> ServingMetrics:  # fmt: skip
    """The engine series of one replica, in a registry of its own."""

    def gauges() -> EngineGauges:
        return EngineGauges(member.num_waiting, member.num_running, member.kv_usage)

    config = {**cache_config, "num_gpu_blocks": str(member.replica.engine.kv.num_blocks)}
    return ServingMetrics(
        CollectorRegistry(),
        model_name=model_name,
        max_model_len=max_model_len,
        speed=fleet.lag.speed,
        cache_config=config,
        gauges=gauges,
        lag_bound_s=fleet.lag.bound_s,
    )


class TeeObserver:
    """The EngineObserver of one replica's loop: the fleet's metrics and the replica's own."""

    def __init__(self, *observers) -> None:
        self.observers = observers

    def on_step(self, result, start_s: float, end_s: float) -> None:
        for o in self.observers:
            o.on_step(result, start_s, end_s)

    def on_first_token(self, req) -> None:
        for o in self.observers:
            o.on_first_token(req)

    def on_tokens(self, gap_s: float, count: int) -> None:
        for o in self.observers:
            o.on_tokens(gap_s, count)

    def on_finish(self, req, seq, reason: str) -> None:
        for o in self.observers:
            o.on_finish(req, seq, reason)

    def on_pacing_lag(self, lag_s: float) -> None:
        self.observers[0].on_pacing_lag(lag_s)  # one loop's lag: the fleet's monitor only


class FleetExposition:
    """What the fleet's /metrics shows (anything generate_latest takes)."""

    def __init__(self, gateway: CollectorRegistry, replicas: list[tuple[str, CollectorRegistry]]) -> None:  # fmt: skip
        self.gateway = gateway
        self.replicas = replicas

    def collect(self) -> Iterator[Metric]:
        for family in self.gateway.collect():
            if not family.name.startswith(ENGINE_PREFIX):
                yield family
        merged: dict[str, Metric] = {}
        for name, registry in self.replicas:
            for family in registry.collect():
                if not family.name.startswith(ENGINE_PREFIX):
                    continue
                out = merged.get(family.name)
                if out is None:  # each family defined once, from the first replica's
                    out = merged[family.name] = Metric(family.name, family.documentation, family.type, family.unit)  # fmt: skip
                out.samples.extend(
                    Sample(
                        s.name, {**s.labels, REPLICA_LABEL: name}, s.value, s.timestamp, s.exemplar
                    )  # fmt: skip
                    for s in family.samples
                )
        yield from merged.values()
