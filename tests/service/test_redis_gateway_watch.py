"""The gateway's side of the Redis transport against a real redis-server, with this test in
the scheduler replica's place: events the gateway must not miss, and requests whose end can
no longer come, which must end with an explicit error instead of hanging."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time

import pytest
from redis import Redis

from llmemu.protocol.internal import SubmitSequence, TokenEvent
from llmemu.service import redis_wire as wire
from llmemu.service.redis_gateway import RedisGatewayTransport
from llmemu.service.redis_watch import Flight

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server (scripts/ci-system-deps.sh)"
)
MODEL = "m"
REPLICA = "r1"


@pytest.fixture
def redis_url(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield url
    server.terminate()
    server.wait(10)


class Replica:
    """What a scheduler replica does on the bus, done by hand."""

    def __init__(self, url: str) -> None:
        self.redis = Redis.from_url(url, decode_responses=True)
        self.stream = wire.request_stream(REPLICA)
        self.redis.xgroup_create(self.stream, wire.GROUP, id="0", mkstream=True)

    def report(self, age_s: float = 0.0) -> None:
        load = wire.encode_load(MODEL, 0, 0, 0.0, True, None)
        self.redis.hset(wire.REPLICAS_KEY, REPLICA, _aged(load, age_s))

    def take(self) -> list[tuple[str, dict]]:
        reply = self.redis.xreadgroup(wire.GROUP, REPLICA, {self.stream: ">"}, count=100)
        return [e for _, items in reply or [] for e in items]

    def emit(self, gateway: str, reply_to: str, event: TokenEvent) -> None:
        self.redis.xadd(wire.event_stream(gateway), wire.encode_events({reply_to: [event]}))

    def ack(self, entry: str) -> None:
        self.redis.xack(self.stream, wire.GROUP, entry)


def _aged(load: str, age_s: float) -> str:
    data = json.loads(load)
    return json.dumps(data | {"t": data["t"] - age_s})


def _sequence(n: int) -> SubmitSequence:
    return SubmitSequence(f"req{n}-0", f"req{n}", 4, 8, 0.0, "length")


async def _gateway(url: str, **watch) -> RedisGatewayTransport:
    gateway = RedisGatewayTransport(url, watch_every_s=0.05, **watch)
    gateway.model = MODEL
    gateway.start()
    deadline = time.monotonic() + 10
    while not (gateway.connected and gateway.pick()):
        assert time.monotonic() < deadline, "the gateway never saw the replica"
        await asyncio.sleep(0.02)
    return gateway


async def _next(queue: asyncio.Queue, within_s: float) -> list[TokenEvent] | None:
    return await asyncio.wait_for(queue.get(), within_s)


def test_an_event_written_between_two_reads_reaches_the_gateway(redis_url):
    # Reading from "$" each time, an entry written after one read returned and before the
    # next began was skipped: until a gateway's first event, every read started from "$".
    replica = Replica(redis_url)
    replica.report()

    async def run():
        gateway = RedisGatewayTransport(redis_url)
        gateway.model = MODEL
        real_xread = gateway.redis.xread
        calls = 0

        async def xread_after_a_write(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == 1:  # the write lands before the gateway's first read starts
                replica.emit(gateway.gateway_id, "req1", TokenEvent("req1-0", 1, 0.1))
            return await real_xread(*args, **kwargs)

        gateway.redis.xread = xread_after_a_write
        queue = gateway.subscribe("req1")
        gateway._flights["req1-0"] = _flight_of("req1")
        gateway.start()
        try:
            return await _next(queue, 5)
        finally:
            await gateway.stop()

    events = asyncio.run(run())
    assert [(e.seq_id, e.generated) for e in events] == [("req1-0", 1)]


def _flight_of(reply_to: str) -> Flight:
    return Flight(reply_to, REPLICA, "0-1", time.monotonic())


def test_a_request_its_replica_finished_without_its_end_reaching_the_gateway_fails(redis_url):
    replica = Replica(redis_url)
    replica.report()

    async def run():
        gateway = await _gateway(redis_url, quiet_s=0.3)
        queue = gateway.subscribe("req1")
        gateway.submit([_sequence(1)])
        ((entry, _),) = replica.take()
        replica.emit(gateway.gateway_id, "req1", TokenEvent("req1-0", 1, 0.1))
        first = await _next(queue, 5)
        replica.ack(entry)  # its last events are lost: written nowhere
        try:
            return first, await _next(queue, 5)
        finally:
            await gateway.stop()

    first, last = asyncio.run(run())
    assert [e.generated for e in first] == [1]
    (end,) = last
    assert (end.seq_id, end.finish_reason, end.status, end.generated) == ("req1-0", "error", 500, 1)  # fmt: skip
    assert "never reached the gateway" in end.error


def test_a_request_on_a_replica_that_stopped_reporting_fails_and_is_aborted(redis_url):
    replica = Replica(redis_url)
    replica.report()

    async def run():
        gateway = await _gateway(redis_url, quiet_s=0.2, replica_lost_s=1.0)
        queue = gateway.subscribe("req1")
        gateway.submit([_sequence(1)])
        replica.take()  # read, then the replica dies: it reports no more
        started = time.monotonic()
        try:
            return await _next(queue, 5), time.monotonic() - started
        finally:
            await gateway.stop()

    events, waited_s = asyncio.run(run())
    (end,) = events
    assert (end.finish_reason, end.status) == ("error", 503)
    assert "r1 stopped reporting for 1 s" in end.error
    assert waited_s >= 0.9  # its last report was fresh when it was submitted
    aborts = [f for _, f in replica.take() if f["t"] == "abort"]
    assert aborts == [{"t": "abort", "m": "req1-0"}]  # a late restart drops it


def test_quiet_requests_that_are_queued_or_running_are_left_alone(redis_url):
    replica = Replica(redis_url)
    replica.report()

    async def run():
        gateway = await _gateway(redis_url, quiet_s=0.1, replica_lost_s=5.0)
        queue = gateway.subscribe("req1")
        gateway.submit([_sequence(1)])  # queued: not read by the replica yet
        await asyncio.sleep(0.5)
        queued = queue.qsize()
        replica.take()  # running: read, not acknowledged
        for _ in range(5):
            replica.report()
            await asyncio.sleep(0.1)
        try:
            return queued, queue.qsize(), set(gateway._flights)
        finally:
            await gateway.stop()

    queued, running, flights = asyncio.run(run())
    assert (queued, running, flights) == (0, 0, {"req1-0"})
