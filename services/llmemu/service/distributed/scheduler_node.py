"""The scheduler service of the distributed deployment: the embedded default's SchedulerService
(same engine, same metrics) behind the Redis transport, pricing through device workers.

A supervisor probes the workers every PROBE_EVERY_S: a worker silent for `worker_timeout_s`
makes the replica stop admitting (new requests fail at once with a 503, and it reports itself
unhealthy so gateways send elsewhere); an iteration that cannot reach a worker fails its requests with
a 503 in their streams. When every worker answers again, a fresh SchedulerService takes over
the same engine (emptied by the failure) and the replica admits again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from llmemu.core.remote_pricing import RemotePlanPricer
from llmemu.core.specs.model import kv_bytes_per_token
from llmemu.service.distributed import redis_wire as wire
from llmemu.service.distributed.device_client import WorkerPool, parse_workers
from llmemu.service.distributed.epoch_clock import EpochClock
from llmemu.service.distributed.redis_scheduler import RedisSchedulerTransport
from llmemu.service.distributed.scenario import emulation_from
from llmemu.service.distributed.settings import SchedulerSettings
from llmemu.service.live.engine_loop import SchedulerService
from llmemu.service.metrics.device import WORKER_OWNED
from llmemu.service.metrics.mfu import MfuCollector
from llmemu.service.metrics.registry_view import RegistryView, process_registry
from llmemu.service.metrics.serving import EngineGauges, ServingMetrics

log = logging.getLogger("llmemu.scheduler")
PROBE_EVERY_S = 0.25
REPORT_EVERY_S = 0.1
GATEWAY_OWNED = ("llmemu_pacing_lag_seconds", "vllm:admission_rejections")


class SchedulerNode:
    """Everything one scheduler replica process runs; `start()` inside the event loop."""

    def __init__(self, settings: SchedulerSettings, redis: Redis, epoch_s: float) -> None:
        self.settings = settings
        self.redis = redis
        self.emu = emu = emulation_from(settings)
        engine = emu.replica.engine
        kv = engine.kv
        block_bytes = kv_bytes_per_token(emu.loaded.model) * kv.block_size
        self.pool = WorkerPool(
            parse_workers(settings.workers),
            timeout_s=settings.worker_timeout_s,
            kv_bytes=lambda: (kv.num_blocks - kv.free_blocks) * block_bytes,
        )
        self.pool.check([p.name for p in emu.replica.system.processors])
        engine.pricer = RemotePlanPricer(engine.pricer, self.pool)
        self.clock = EpochClock(settings.speed, epoch_s)
        self.registry = process_registry()
        self.transport = RedisSchedulerTransport(redis, settings.replica)
        self.metrics = ServingMetrics(
            self.registry,
            model_name=emu.served_model_name,
            max_model_len=emu.max_model_len,
            speed=settings.speed,
            cache_config=emu.cache_config,
            gauges=self._gauges,
        )
        tp = emu.replica.system.tensor_parallel
        self.registry.register(MfuCollector(self.metrics.own, emu.served_model_name, tp))
        self.service = SchedulerService(emu.replica, self.clock, self.transport, self.metrics)
        self.transport.clock = self.clock
        self.transport.refusing = lambda: self.why_down or self.service.dead
        self.why_down: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def _gauges(self) -> EngineGauges:
        load = self.service.load()
        return EngineGauges(load.num_waiting, load.num_running, self.emu.replica.engine.kv.usage)

    @property
    def healthy(self) -> bool:
        return self.why_down is None and self.service.dead is None and self.transport.connected

    def start(self) -> None:
        self.transport.start()
        self.service.start()
        loop = asyncio.get_running_loop()
        self._tasks += [loop.create_task(self._supervise()), loop.create_task(self._report())]

    async def stop(self) -> None:
        self._stopping = True  # redis-py can swallow a cancellation mid-command
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.service.stop()
        await self.transport.stop()
        self.pool.close()

    async def _supervise(self) -> None:
        while not self._stopping:
            # Only a probe that began after the engine loop failed may restart it: one that
            # began before could see every worker answer just before one fell silent, and
            # would restart the engine (healthy again) while that worker is still silent.
            dead_before = self.service.dead
            why = await asyncio.to_thread(self.pool.probe)
            if why != self.why_down:
                log.warning("device workers: %s", why or "all answering again")
            self.why_down = why
            if self.service.dead is not None:
                self.transport.refuse_queued()
            if why is None and dead_before is not None and self.service.dead is not None:
                # The failed service emptied the engine; a new one runs it from here.
                log.warning("restarting the engine loop after: %s", self.service.dead)
                self.service = SchedulerService(self.emu.replica, self.clock, self.transport, self.metrics)  # fmt: skip
                self.service.start()
            await asyncio.sleep(PROBE_EVERY_S)

    async def _report(self) -> None:
        while not self._stopping:
            load = self.service.load()
            kv = self.emu.replica.engine.kv.usage
            why = self.why_down or self.service.dead
            value = wire.encode_load(
                self.emu.served_model_name,
                load.num_waiting,
                load.num_running,
                kv,
                self.healthy,
                why,
            )
            # Redis down: the transport's reader notices, reconnects, and reports resume.
            with contextlib.suppress(RedisError):
                await self.redis.hset(wire.REPLICAS_KEY, self.settings.replica, value)
            await asyncio.sleep(REPORT_EVERY_S)

    def app(self) -> FastAPI:
        own = GATEWAY_OWNED + WORKER_OWNED
        exposed = RegistryView(self.registry, lambda n: not n.startswith(own))
        app = FastAPI(title=f"llmemu scheduler {self.settings.replica}")

        @app.get("/health")
        async def health() -> Response:
            if self.healthy:
                return Response(status_code=200)
            why = self.why_down or self.service.dead or "redis unavailable"
            return JSONResponse({"error": why}, status_code=503)

        @app.get("/load")
        async def load() -> dict:
            x = self.service.load()
            return {"num_waiting": x.num_waiting, "num_running": x.num_running,
                    "kv_cache_usage": self.emu.replica.engine.kv.usage, "healthy": self.healthy}  # fmt: skip

        @app.api_route("/metrics", methods=["GET", "HEAD"])
        async def metrics(request: Request) -> Response:
            body = b"" if request.method == "HEAD" else generate_latest(exposed)
            return Response(body, media_type=CONTENT_TYPE_LATEST)

        return app
