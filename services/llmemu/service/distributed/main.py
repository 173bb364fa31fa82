"""Entry points of the three distributed services (the deployment folders' main.py call these).

Settings come from the environment (LLMEMU_GATEWAY_*, LLMEMU_SCHEDULER_*, LLMEMU_WORKER_*),
over an optional env file given as the only argument. A service that needs Redis waits for
it at start (compose starts them together), then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import uvicorn
from redis.asyncio import Redis
from redis.exceptions import RedisError

from llmemu.service.distributed import redis_wire as wire
from llmemu.service.distributed.settings import GatewaySettings, SchedulerSettings, WorkerSettings

log = logging.getLogger("llmemu")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per worker call otherwise


def _settings(cls, argv: list[str]):
    if len(argv) > 1:
        raise SystemExit(f"usage: main.py [ENV_FILE]  (got {' '.join(argv)})")
    return cls(_env_file=argv[0]) if argv else cls()


async def _epoch(redis: Redis) -> float:
    while True:
        try:
            return await wire.shared_epoch(redis)
        except RedisError as exc:
            log.warning("waiting for redis: %s", exc)
            await asyncio.sleep(0.5)


async def _serve(app, host: str, port: int) -> None:
    from llmemu.service.api.http_server import ConnectionLimits, guarded_protocol

    http = guarded_protocol(ConnectionLimits())  # header size and time, connection count
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, http=http)  # fmt: skip
    await uvicorn.Server(config).serve()


async def _gateway(settings: GatewaySettings) -> None:
    from llmemu.core.errors import ConfigError
    from llmemu.core.fleet.routers import make_router
    from llmemu.service.distributed.epoch_clock import EpochClock
    from llmemu.service.distributed.gateway_node import create_gateway_app
    from llmemu.service.distributed.redis_gateway import RedisGatewayTransport
    from llmemu.service.distributed.scenario import emulation_from

    try:  # an unknown name: one line, before connecting
        router = make_router(settings.router, {})
    except ConfigError as exc:
        raise SystemExit(f"LLMEMU_GATEWAY_ROUTER: {exc}") from None
    transport = RedisGatewayTransport(
        settings.redis_url,
        settings.gateway_id,
        replica_lost_s=settings.replica_lost_s,
        router=router,
    )
    clock = EpochClock(settings.speed, await _epoch(transport.redis))
    app = create_gateway_app(settings, emulation_from(settings), transport, clock)
    transport.start()
    try:
        await _serve(app, settings.host, settings.port)
    finally:
        await transport.stop()


async def _scheduler(settings: SchedulerSettings) -> None:
    from llmemu.service.distributed.scheduler_node import SchedulerNode

    redis = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=2.0)
    node = SchedulerNode(settings, redis, await _epoch(redis))
    node.start()
    try:
        await _serve(node.app(), settings.host, settings.port)
    finally:
        await node.stop()
        await redis.aclose()


def run_gateway(argv: list[str]) -> int:
    _logging()
    asyncio.run(_gateway(_settings(GatewaySettings, argv)))
    return 0


def run_scheduler(argv: list[str]) -> int:
    _logging()
    asyncio.run(_scheduler(_settings(SchedulerSettings, argv)))
    return 0


def run_worker(argv: list[str]) -> int:
    from llmemu.service.distributed.device_worker import create_worker_app

    _logging()
    settings = _settings(WorkerSettings, argv)
    asyncio.run(_serve(create_worker_app(settings), settings.host, settings.port))
    return 0


# python -m llmemu.service.distributed.main gateway|scheduler|device-worker
if __name__ == "__main__":
    runners = {"gateway": run_gateway, "scheduler": run_scheduler, "device-worker": run_worker}
    sys.exit(runners[sys.argv[1]](sys.argv[2:]))
