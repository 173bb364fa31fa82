"""`create_app`: the embedded default, gateway and scheduler service in one process joined by
the in-memory transport. Every process-global thing (clock, metrics registry, transport,
the emulation itself) can be injected, so tests build whole systems side by side."""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_fastapi_instrumentator import Instrumentator

from llmemu.service.api.direct import ServingApp
from llmemu.service.api.errors import ApiError, install_error_handlers
from llmemu.service.api.gateway import Gateway
from llmemu.service.api.middleware import ArrivalStamp, GuardMiddleware
from llmemu.service.api.offload import OffLoop
from llmemu.service.api.openai_routes import openai_routes
from llmemu.service.api.settings import ServeSettings
from llmemu.service.dashboard.page import install_dashboard
from llmemu.service.dashboard.state import Collectors
from llmemu.service.live.clock import RealTimeClock
from llmemu.service.live.emulation import Emulation, load_emulation
from llmemu.service.live.fleet import new_scheduler, new_transport
from llmemu.service.live.heap import frozen_heap
from llmemu.service.live.pacing import OnePerTurn
from llmemu.service.live.transport import InMemoryTransport
from llmemu.service.metrics.endpoint import install_timings
from llmemu.service.metrics.mfu import MfuCollector
from llmemu.service.metrics.registry_view import process_registry
from llmemu.service.metrics.serving import HTTP_EXCLUDED, EngineGauges, ServingMetrics
from llmemu.service.text.lengths import OutputSampler
from llmemu.service.text.tokenizer import load_tokenizer


def _version() -> str:
    try:
        return version("llmemu")
    except PackageNotFoundError:
        return "0+unknown"


def create_app(
    settings: ServeSettings,
    *,
    clock: RealTimeClock | None = None,
    registry: CollectorRegistry | None = None,
    transport: InMemoryTransport | None = None,
    emulation: Emulation | None = None,
) -> FastAPI:
    emu = emulation or load_emulation(settings)
    clock = clock or RealTimeClock(settings.speed)
    registry = registry or process_registry()
    transport = transport or new_transport(emu)
    tok = load_tokenizer(settings.tokenizer)
    workload = emu.loaded.spec.workload
    sampler = OutputSampler.for_workload(tok.word_ids, emu.seed, workload, emu.output_rows)

    def gauges() -> EngineGauges:
        load = transport.load()
        return EngineGauges(load.num_waiting, load.num_running, emu.kv_usage)

    metrics = ServingMetrics(
        registry,
        model_name=emu.served_model_name,
        max_model_len=emu.max_model_len,
        speed=clock.speed,
        cache_config=emu.cache_config,
        gauges=gauges,
        lag_bound_s=settings.lag_bound_ms / 1e3,
    )
    tp = emu.replica.system.tensor_parallel
    registry.register(MfuCollector(metrics.own, emu.served_model_name, tp))
    scheduler = new_scheduler(emu, clock, transport, metrics)
    # A fleet's /metrics: each replica's engine series labelled with its name.
    exported = scheduler.exposition(registry) if hasattr(scheduler, "exposition") else registry

    def ensure_started() -> None:
        if scheduler.dead:
            raise ApiError(500, scheduler.dead, err_type="InternalServerError")
        scheduler.start()

    offload = OffLoop()
    gate = OnePerTurn(scheduler)  # no request is handled as a burst falls due
    # Nor is a response ended; in a line of its own, so that ends never hold requests back.
    ends = OnePerTurn(scheduler)
    gateway = Gateway.serving(emu, transport, tok, clock, metrics, settings, ensure_started, offload, ends)  # fmt: skip

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        scheduler.start()
        dashboard.start()
        with frozen_heap():
            yield
        await dashboard.stop()
        await scheduler.stop()
        transport.close_all()
        offload.close()

    app = ServingApp(title="llmemu", version=_version(), lifespan=lifespan)
    app.state.scheduler, app.state.gateway, app.state.emulation = scheduler, gateway, emu
    app.state.tokenizer, app.state.registry, app.state.clock = tok, registry, clock
    app.state.serving = (settings, sampler, offload, gate)
    """What an app of one replica of a fleet shares with this one (service/live/replica_app.py)."""
    install_error_handlers(app)
    app.add_middleware(
        GuardMiddleware,
        api_keys=settings.api_keys,
        max_body_bytes=settings.max_body_bytes,
        max_body_items=settings.max_body_items,
    )
    excluded = [f"^{p}/?$" for p in HTTP_EXCLUDED]
    Instrumentator(excluded_handlers=excluded, registry=registry).instrument(app)
    app.add_middleware(ArrivalStamp, now=clock.now, gate=gate)
    openai_routes(app, settings, emu, gateway, tok, sampler, clock, offload)
    _admin_routes(app, emu, scheduler, gateway, tok, exported)
    dashboard = install_dashboard(app, Collectors(metrics.dashboard_collectors()), clock, emu)
    install_timings(app, metrics)
    return app


def _admin_routes(app, emu, scheduler, gateway, tok, registry) -> None:
    @app.get("/health")
    async def health() -> Response:
        if scheduler.dead:
            return JSONResponse({"error": scheduler.dead}, status_code=503)
        return Response(status_code=200)

    @app.get("/version")
    async def version_() -> dict:
        return {"version": _version()}

    @app.get("/load")
    async def load() -> dict:
        return {"server_load": gateway.in_flight}

    @app.api_route("/ping", methods=["GET", "POST"])
    async def ping() -> Response:
        return Response(status_code=200)

    @app.api_route("/metrics", methods=["GET", "HEAD"])
    @app.api_route("/metrics/", methods=["GET", "HEAD"], include_in_schema=False)
    async def metrics(request: Request) -> Response:
        body = b"" if request.method == "HEAD" else generate_latest(registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)
