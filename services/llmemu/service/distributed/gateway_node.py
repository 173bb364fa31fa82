"""The gateway service of the distributed deployment: the embedded default's Gateway and
OpenAI routes (same objects, same code) over the Redis transport instead of an in-process
scheduler. It owns the HTTP series, pacing lag and admission rejections; the engine series
come from the scheduler replicas."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator

from llmemu.service.api.app import _admin_routes, _version
from llmemu.service.api.direct import ServingApp
from llmemu.service.api.errors import install_error_handlers
from llmemu.service.api.gateway import Gateway
from llmemu.service.api.middleware import ArrivalStamp, GuardMiddleware
from llmemu.service.api.offload import OffLoop
from llmemu.service.api.openai_routes import openai_routes
from llmemu.service.api.settings import ServeSettings
from llmemu.service.distributed.epoch_clock import EpochClock
from llmemu.service.distributed.redis_gateway import RedisGatewayTransport
from llmemu.service.distributed.settings import GatewaySettings
from llmemu.service.live.emulation import Emulation
from llmemu.service.live.pacing import OnePerTurn
from llmemu.service.metrics.registry_view import RegistryView, process_registry
from llmemu.service.metrics.serving import HTTP_EXCLUDED, EngineGauges, ServingMetrics
from llmemu.service.text.lengths import OutputSampler
from llmemu.service.text.tokenizer import load_tokenizer

OWNED = ("http_", "process_", "python_", "llmemu_pacing_", "vllm:admission_rejections")


class _BusHealth:
    """What /health reports: `dead` is why no request can be served now (None: fine)."""

    def __init__(self, transport: RedisGatewayTransport) -> None:
        self.transport = transport

    @property
    def dead(self) -> str | None:
        if not self.transport.connected:
            return "the message bus (Redis) is unavailable"
        return None if self.transport.pick() else "no scheduler replica is healthy"


def create_gateway_app(
    settings: GatewaySettings,
    emu: Emulation,
    transport: RedisGatewayTransport,
    clock: EpochClock,
) -> FastAPI:
    serve = ServeSettings(
        speed=settings.speed,
        api_keys=settings.api_keys,
        max_waiting=settings.max_waiting,
        retry_after_s=settings.retry_after_s,
        max_body_bytes=settings.max_body_bytes,
        max_body_items=settings.max_body_items,
        context_overflow=settings.context_overflow,
    )
    registry = process_registry()
    tok = load_tokenizer(settings.tokenizer)
    sampler = OutputSampler.for_workload(tok.word_ids, emu.seed, emu.loaded.spec.workload, emu.output_rows)  # fmt: skip
    metrics = ServingMetrics(
        registry,
        model_name=emu.served_model_name,
        max_model_len=emu.max_model_len,
        speed=clock.speed,
        cache_config=emu.cache_config,
        gauges=lambda: EngineGauges(0, 0, 0.0),  # not exposed: the schedulers' are
    )
    transport.clock, transport.model = clock, emu.served_model_name
    offload = OffLoop()
    gateway = Gateway.serving(emu, transport, tok, clock, metrics, serve, transport.check, offload)  # fmt: skip
    app = ServingApp(title="llmemu gateway", version=_version())
    app.state.gateway, app.state.emulation, app.state.transport = gateway, emu, transport
    install_error_handlers(app)
    app.add_middleware(GuardMiddleware, api_keys=serve.api_keys, max_body_bytes=serve.max_body_bytes, max_body_items=serve.max_body_items)  # fmt: skip
    excluded = [f"^{p}/?$" for p in HTTP_EXCLUDED]
    Instrumentator(excluded_handlers=excluded, registry=registry).instrument(app)
    app.add_middleware(ArrivalStamp, now=clock.now, gate=OnePerTurn())
    openai_routes(app, serve, emu, gateway, tok, sampler, clock, offload)
    exposed = RegistryView(registry, lambda n: n.startswith(OWNED))
    _admin_routes(app, emu, _BusHealth(transport), gateway, tok, exposed)
    return app
