"""The gateway's side of the Redis transport against a real redis-server, with this test in
the scheduler replica's place: events the gateway must not miss, and requests whose end can
no longer come, which must end with an explicit error instead of hanging."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable

import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from llmemu.protocol.internal import SubmitSequence, TokenEvent
from llmemu.service.api.gateway import Gateway
from llmemu.service.distributed import redis_wire as wire
from llmemu.service.distributed.redis_gateway import BusUnavailable, RedisGatewayTransport
from llmemu.service.distributed.redis_scheduler import RedisSchedulerTransport
from llmemu.service.distributed.redis_watch import Flight, stream_id

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


@contextlib.asynccontextmanager
async def _serving(url: str, **watch):
    """A started gateway with one request (req1) in flight, and its event queue; stopped on
    leaving."""
    gateway = await _gateway(url, **watch)
    queue = gateway.subscribe("req1")
    gateway.submit([_sequence(1)])
    try:
        yield gateway, queue
    finally:
        await gateway.stop()


async def _gateway(url: str, **watch) -> RedisGatewayTransport:
    gateway = RedisGatewayTransport(url, watch_every_s=0.05, **watch)
    gateway.model = MODEL
    gateway.start()
    deadline = time.monotonic() + 10
    while not (gateway.connected and gateway.pick()):
        assert time.monotonic() < deadline, "the gateway never saw the replica"
        await asyncio.sleep(0.02)
    return gateway


async def _until(done: Callable[[], bool], within_s: float) -> None:
    """Wait until `done()`, at most `within_s` (the assertions after it say what was missed)."""
    deadline = time.monotonic() + within_s
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _scheduler(redis_url: str, taken: int, **settings):
    """The replica's side of the transport on its stream, once it has taken `taken` commands;
    stopped on leaving."""
    redis = AsyncRedis.from_url(redis_url, decode_responses=True)
    scheduler = RedisSchedulerTransport(redis, REPLICA, **settings)
    scheduler.start()
    await _until(lambda: len(scheduler._commands) >= taken, 10)
    try:
        yield scheduler
    finally:
        await scheduler.stop()
        await redis.aclose()


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
        async with _serving(redis_url, quiet_s=0.3) as (gateway, queue):
            ((entry, _),) = replica.take()
            replica.emit(gateway.gateway_id, "req1", TokenEvent("req1-0", 1, 0.1))
            first = await _next(queue, 5)
            replica.ack(entry)  # its last events are lost: written nowhere
            return first, await _next(queue, 5)

    first, last = asyncio.run(run())
    assert [e.generated for e in first] == [1]
    (end,) = last
    assert (end.seq_id, end.finish_reason, end.status, end.generated) == ("req1-0", "error", 500, 1)  # fmt: skip
    assert "never reached the gateway" in end.error


def test_a_request_on_a_replica_that_stopped_reporting_fails_and_is_aborted(redis_url):
    replica = Replica(redis_url)
    replica.report()

    async def run():
        async with _serving(redis_url, quiet_s=0.2, replica_lost_s=1.0) as (gateway, queue):
            replica.take()  # read, then the replica dies: it reports no more
            started = time.monotonic()
            return await _next(queue, 5), time.monotonic() - started

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
        async with _serving(redis_url, quiet_s=0.1, replica_lost_s=5.0) as (gateway, queue):
            await asyncio.sleep(0.5)  # queued: not read by the replica yet
            queued = queue.qsize()
            replica.take()  # running: read, not acknowledged
            for _ in range(5):
                replica.report()
                await asyncio.sleep(0.1)
            return queued, queue.qsize(), set(gateway._flights)

    queued, running, flights = asyncio.run(run())
    assert (queued, running, flights) == (0, 0, {"req1-0"})


@pytest.mark.parametrize("same_id", [False, True], ids=["newer id", "same id"])
def test_a_request_redis_lost_fails_after_replica_lost_s_not_as_finished(redis_url, same_id):
    # Redis restarted empty (here: FLUSHALL): the replica re-makes its group from "0" and
    # reads newer entries. The old entry is then behind the read position and not pending,
    # which alone would look finished; or a new entry took its id (ids restart after the
    # loss), which alone would look running. It is gone, and the replica may still be
    # running it: it fails as lost once quiet for replica_lost_s.
    replica = Replica(redis_url)
    replica.report()

    async def run():
        # Marked before the gateway submits: it counts replica_lost_s from the submission
        # (the last it heard of the request), which a mark taken after take() would follow.
        submitted = time.monotonic()
        async with _serving(redis_url, quiet_s=0.1, replica_lost_s=1.5) as (gateway, queue):
            ((entry, _),) = replica.take()
            replica.redis.flushall()
            replica.redis.xgroup_create(replica.stream, wire.GROUP, id="0", mkstream=True)
            other = wire.encode_submit(_sequence(2), "another-gateway")
            ms, _ = stream_id(entry)
            replica.redis.xadd(replica.stream, other, id=entry if same_id else f"{ms + 1}-0")
            replica.take()
            while True:  # keep reporting: the replica is alive
                replica.report()
                try:
                    return await _next(queue, 0.1), time.monotonic() - submitted
                except TimeoutError:
                    assert time.monotonic() - submitted < 10, "the lost request never ended"

    (end,), waited_s = asyncio.run(run())
    assert (end.finish_reason, end.status) == ("error", 503)
    assert "lost this request" in end.error
    assert waited_s >= 1.5


def test_a_gateway_not_allowed_to_ask_leaves_running_requests_alone(redis_url):
    # A Redis user without XINFO: the watch cannot tell, so it must not fail anything.
    admin = Redis.from_url(redis_url)
    admin.execute_command("ACL", "SETUSER", "gw", "on", ">pw", "~*", "&*", "+@all", "-xinfo")
    replica = Replica(redis_url)
    replica.report()
    url = redis_url.replace("redis://", "redis://gw:pw@")

    async def run():
        async with _serving(url, quiet_s=0.1, replica_lost_s=0.5) as (gateway, queue):
            replica.take()
            for _ in range(15):  # past replica_lost_s, reporting all along
                replica.report()
                await asyncio.sleep(0.1)
            return queue.qsize(), set(gateway._flights)

    assert asyncio.run(run()) == (0, {"req1-0"})


def test_a_restarted_replica_takes_back_every_unacknowledged_entry(redis_url):
    # More than one page (512) of entries read and never acknowledged before a restart.
    replica = Replica(redis_url)
    for n in range(1200):
        replica.redis.xadd(replica.stream, wire.encode_submit(_sequence(n), "gw"))
    while replica.take():
        pass  # all pending on the consumer REPLICA, as a scheduler that died would leave them

    async def run():
        async with _scheduler(redis_url, 1200) as restarted:
            pass
        return {c.seq_id for c in restarted.drain()}

    assert asyncio.run(run()) == {f"req{n}-0" for n in range(1200)}


def test_a_gateway_stopped_before_it_started_stops(redis_url):
    asyncio.run(RedisGatewayTransport(redis_url).stop())


def test_requests_in_flight_fail_when_a_submit_saw_the_bus_gone_first(redis_url):
    # A failed submit marks the bus down before the reader hits the error itself; the
    # reader used to fail what was in flight only on that transition, so they hung.
    replica = Replica(redis_url)
    replica.report()

    async def run():
        async with _serving(redis_url) as (gateway, queue):
            gateway.connected = False  # as submit() does on a Redis error
            with contextlib.suppress(Exception):
                replica.redis.shutdown(nosave=True)
            return await _next(queue, 5)

    (end,) = asyncio.run(run())
    assert (end.seq_id, end.finish_reason, end.status) == ("req1-0", "error", 503)


def test_a_request_refused_at_submission_leaves_no_subscription(redis_url):
    transport = RedisGatewayTransport(redis_url)  # not started: the bus counts as down
    gateway = Gateway(model_names=[MODEL], transport=transport, word_text=str,
                      lag_s=lambda t: 0.0, on_lag=lambda lag: None, on_rejected=lambda: None,
                      max_waiting=None, retry_after_s=1, ensure_started=lambda: None)  # fmt: skip

    async def run():
        with pytest.raises(BusUnavailable):
            await gateway.serve(gateway.new_job(chat=False), None, None, 0.0)
        await transport.stop()

    asyncio.run(run())
    assert transport._subs == {}


def test_a_replica_trims_acknowledged_entries_older_than_every_pending_one(redis_url):
    # Six requests read; 0, 1 and 3 finish. With nothing kept for the watch (keep_acked_s
    # 0), the stream drops what is older than the oldest pending entry (2): 2 to 5 stay.
    replica = Replica(redis_url)
    for n in range(6):
        replica.redis.xadd(replica.stream, wire.encode_submit(_sequence(n), "gw"))

    async def run():
        async with _scheduler(redis_url, 6, keep_acked_s=0.0) as scheduler:
            for n in (0, 1, 3):
                scheduler.publish(f"req{n}", [TokenEvent(f"req{n}-0", 8, 1.0, "length")])
            await _until(lambda: replica.redis.xlen(replica.stream) <= 4, 5)  # flush, trim

    asyncio.run(run())
    left = [wire.decode_command(f)[0].seq_id for _, f in replica.redis.xrange(replica.stream)]
    assert left == ["req2-0", "req3-0", "req4-0", "req5-0"]


def test_a_read_that_times_out_once_resumes_and_fails_nothing(redis_url):
    # E.g. the gateway's event loop stalled past the socket timeout: Redis is fine, and the
    # reader goes on from the last entry it read.
    replica = Replica(redis_url)
    replica.report()

    async def run():
        async with _serving(redis_url) as (gateway, queue):
            real_xread, calls = gateway.redis.xread, 0

            async def xread_timing_out_once(*args, **kwargs):
                nonlocal calls
                calls += 1
                if calls == 1:
                    replica.emit(gateway.gateway_id, "req1", TokenEvent("req1-0", 1, 0.1))
                    raise RedisTimeoutError("Timeout reading from socket")
                return await real_xread(*args, **kwargs)

            gateway.redis.xread = xread_timing_out_once
            return await _next(queue, 5)

    events = asyncio.run(run())
    assert [(e.seq_id, e.generated, e.finish_reason) for e in events] == [("req1-0", 1, None)]


def test_an_event_entry_the_gateway_cannot_read_is_skipped(redis_url):
    # E.g. written by a newer scheduler with a field this gateway does not know.
    replica = Replica(redis_url)
    replica.report()

    async def run():
        async with _serving(redis_url) as (gateway, queue):
            odd = {"req1": [{"seq_id": "req1-0", "generated": 1, "time_s": 0.1, "new_field": 1}]}
            replica.redis.xadd(wire.event_stream(gateway.gateway_id), {"e": json.dumps(odd)})
            replica.emit(gateway.gateway_id, "req1", TokenEvent("req1-0", 2, 0.2))
            return await _next(queue, 5)

    assert [(e.seq_id, e.generated) for e in asyncio.run(run())] == [("req1-0", 2)]


def test_a_request_entry_the_replica_cannot_read_ends_with_an_error_and_is_acknowledged(
    redis_url,
):
    replica = Replica(redis_url)
    odd = json.loads(wire.encode_submit(_sequence(1), "gw")["m"]) | {"new_field": 1}
    replica.redis.xadd(replica.stream, {"t": "submit", "gw": "gw", "m": json.dumps(odd)})
    replica.redis.xadd(replica.stream, wire.encode_submit(_sequence(2), "gw"))

    async def run():
        async with _scheduler(redis_url, 1) as scheduler:
            await asyncio.sleep(0.2)  # the error event's flush
        return [c.seq_id for c in scheduler.drain()]

    assert asyncio.run(run()) == ["req2-0"]  # the next entry is still read
    ((_, fields),) = replica.redis.xrange(wire.event_stream("gw"))
    (event,) = wire.decode_events(fields)["req1"]
    assert (event.seq_id, event.finish_reason, event.status) == ("req1-0", "error", 500)
    assert "could not read this request" in event.error
    pending = replica.redis.xpending(replica.stream, wire.GROUP)["pending"]
    assert pending == 1  # req2's only: req1's entry is acknowledged


def test_events_a_replica_could_not_write_are_written_once_the_bus_answers(redis_url):
    replica = Replica(redis_url)
    replica.redis.xadd(replica.stream, wire.encode_submit(_sequence(1), "gw"))

    async def run():
        failed = []
        async with _scheduler(redis_url, 1) as scheduler:
            real_pipeline = scheduler.redis.pipeline

            def pipeline_failing_once(*args, **kwargs):
                pipe = real_pipeline(*args, **kwargs)
                if not failed:
                    failed.append(True)

                    async def refuse(*a, **k):
                        raise RedisConnectionError("Connection refused")

                    pipe.execute = refuse
                return pipe

            scheduler.redis.pipeline = pipeline_failing_once
            scheduler.publish("req1", [TokenEvent("req1-0", 8, 1.0, "length")])
            await asyncio.sleep(1.0)  # a failed write, RETRY_S, the write again
        return failed

    assert asyncio.run(run()) == [True]
    ((_, fields),) = replica.redis.xrange(wire.event_stream("gw"))
    assert [e.finish_reason for e in wire.decode_events(fields)["req1"]] == ["length"]
    assert replica.redis.xpending(replica.stream, wire.GROUP)["pending"] == 0


def test_the_trim_keeps_what_is_pending_on_any_consumer(redis_url):
    # An entry read by another consumer of the group and never acknowledged is not this
    # replica's to drop, though older than all this replica holds.
    replica = Replica(redis_url)
    replica.redis.xadd(replica.stream, wire.encode_submit(_sequence(0), "gw"))
    replica.redis.xreadgroup(wire.GROUP, "another", {replica.stream: ">"}, count=1)
    for n in (1, 2):
        replica.redis.xadd(replica.stream, wire.encode_submit(_sequence(n), "gw"))

    async def run():
        async with _scheduler(redis_url, 2, keep_acked_s=0.0) as scheduler:
            for n in (1, 2):
                scheduler.publish(f"req{n}", [TokenEvent(f"req{n}-0", 8, 1.0, "length")])
            await _until(lambda: scheduler._trimmed_at > 0, 2)  # the trim, which keeps req0
            await asyncio.sleep(0.2)

    asyncio.run(run())
    left = [wire.decode_command(f)[0].seq_id for _, f in replica.redis.xrange(replica.stream)]
    assert left[0] == "req0-0"


def test_requests_fail_when_reads_keep_failing_though_redis_answers(redis_url):
    # PING works but every XREAD fails (here the event stream's key holds a string): the
    # bus is not back, so the requests in flight end after the grace.
    replica = Replica(redis_url)
    replica.report()

    async def run():
        async with _serving(redis_url) as (gateway, queue):
            replica.redis.delete(wire.event_stream(gateway.gateway_id))
            replica.redis.set(wire.event_stream(gateway.gateway_id), "not a stream")
            return await _next(queue, 5)

    (end,) = asyncio.run(run())
    assert (end.seq_id, end.finish_reason, end.status) == ("req1-0", "error", 503)
