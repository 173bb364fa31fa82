"""The gateway's side of the Redis transport (a GatewayTransport for the Gateway).

`submit` writes a request's sequences on the stream of the replica its router picks (the
offline fleet's router registry, core/fleet/routers.py; least-loaded by default: fewest
sequences waiting or running, then the lowest KV usage), among replicas that reported
themselves healthy in the last `stale_s`. Replicas report no cached blocks over the bus, so
prefix-aware routers see none. With Redis unreachable, or no healthy replica, it raises a 503 at once; a
background task reconnects by itself. Token events come back on this gateway's own stream;
events a re-delivered sequence repeats (a restarted scheduler runs it again from the start)
are dropped, so a client sees each token once.

A watch looks at the sequences that have been quiet for `quiet_s` (redis_watch.py) and fails
with an explicit error the ones whose end cannot come: their replica has not reported for
`replica_lost_s` (503; the entry is aborted so that a late restart does not run it), or it
finished them and their last events never reached this gateway (500).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import replace

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from llmemu.core.fleet.routers import Arrival, Router, make_router
from llmemu.protocol.internal import SchedulerLoad, SubmitSequence, TokenEvent
from llmemu.service.api.errors import ApiError
from llmemu.service.distributed import redis_wire as wire
from llmemu.service.distributed.epoch_clock import EpochClock
from llmemu.service.distributed.redis_watch import Flight, Stand, stands, stream_id, stream_tail
from llmemu.service.live.transport import Subscriber

log = logging.getLogger("llmemu.gateway.redis")
RETRY_S = 0.2
LOADS_EVERY_S = 0.1
STOP_GRACE_S = 1.0
BUS_LOST = "The message bus (Redis) became unavailable during the request."
BUS_GRACE_S = 1.0
LEAST_LOADED = make_router("least-loaded", {})
"""How long the bus may fail before the requests in flight are given up."""


class BusUnavailable(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(503, message, headers={"Retry-After": "1"})


class RedisGatewayTransport:
    def __init__(
        self,
        url: str,
        gateway_id: str | None = None,
        *,
        stale_s: float = 2.0,
        replica_lost_s: float = 30.0,
        quiet_s: float = 5.0,
        watch_every_s: float = 1.0,
        router: Router | None = None,
    ) -> None:
        self.gateway_id = gateway_id or uuid.uuid4().hex[:12]
        self.stream = wire.event_stream(self.gateway_id)
        self.redis = Redis.from_url(url, decode_responses=True, socket_timeout=2.0)
        # submit() is synchronous (the Gateway calls it inline); a short timeout keeps a
        # request from hanging on a dead bus: it gets its 503 at once.
        self._sync = SyncRedis.from_url(url, decode_responses=True, socket_timeout=0.5, socket_connect_timeout=0.5)  # fmt: skip
        self.stale_s = stale_s
        self.replica_lost_s = replica_lost_s
        self.quiet_s = quiet_s
        self.watch_every_s = watch_every_s
        self.connected = False
        self.loads: dict[str, dict] = {}
        self.router = router or make_router("least-loaded", {})
        self.assigned: dict[str, int] = {}
        """Sequences sent to each replica (the routers' num_assigned)."""
        self._reported: dict[str, float] = {}  # replica -> newest report time seen (Unix s)
        self._loads_at = 0.0  # monotonic time the replicas' reports were last read
        self._subs: dict[str, Subscriber] = {}
        self._flights: dict[str, Flight] = {}  # seq_id -> in flight, not ended here yet
        self._read_upto: str | None = None  # the last event entry read
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self.model: str | None = None
        """Served model name: only replicas of this model get this gateway's requests."""
        self.clock: EpochClock | None = None
        """The gateway's clock (set by the app): stamps events it makes up, follows the epoch."""

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        loops = (self._read_loop(), self._load_loop(), self._watch_loop())
        self._tasks += [loop.create_task(c) for c in loops]

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        # redis-py (8.1) can swallow a cancellation that lands in a blocking read: the
        # loops then end at their next turn, once the read returns or the connection closes.
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=STOP_GRACE_S)
        self.close_all()
        await self.redis.aclose()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._sync.close()

    def close_all(self) -> None:
        for queue in self._subs.values():
            queue.put_nowait(None)

    # ---- GatewayTransport -------------------------------------------------------------
    def subscribe(self, reply_to: str, subscriber: Subscriber | None = None) -> Subscriber:
        queue = asyncio.Queue() if subscriber is None else subscriber
        self._subs[reply_to] = queue
        return queue

    def unsubscribe(self, reply_to: str) -> None:
        self._subs.pop(reply_to, None)

    def check(self) -> None:
        """Raise the 503 a request gets when nothing can serve it right now."""
        if not self.connected:
            raise BusUnavailable("The message bus (Redis) is unavailable; retry shortly.")
        if self.pick() is None:
            raise BusUnavailable("No scheduler replica is healthy; retry shortly.")

    def pick(self, arrival: Arrival | None = None) -> str | None:
        """The replica the router picks for `arrival`, or None if no replica is healthy.
        Without an arrival (the health check, admission) the least loaded one: asking must
        not move a stateful router (round-robin's turn, a session's home)."""
        now = time.time()
        fresh = [
            _BusReplica(r, x, self.assigned.get(r, 0))
            for r, x in sorted(self.loads.items())
            if x["healthy"] and now - x["t"] < self.stale_s and x.get("model") == self.model
        ]
        if not fresh:
            return None
        if arrival is None:
            return fresh[LEAST_LOADED.pick(Arrival(1, 1), fresh)].name
        return fresh[self.router.pick(arrival, fresh)].name

    def submit(self, seqs: list[SubmitSequence]) -> None:
        self.check()
        first = seqs[0]
        replica = self.pick(Arrival(first.prompt_tokens, first.output_tokens))
        self.assigned[replica] = self.assigned.get(replica, 0) + len(seqs)
        stream = wire.request_stream(replica)
        try:
            pipe = self._sync.pipeline(transaction=False)
            for seq in seqs:
                pipe.xadd(stream, wire.encode_submit(seq, self.gateway_id))
            entries = pipe.execute()
        except RedisError as exc:
            self.connected = False
            raise BusUnavailable(f"The message bus (Redis) is unavailable ({type(exc).__name__}); retry shortly.") from exc  # fmt: skip
        now = time.monotonic()
        for seq, entry in zip(seqs, entries, strict=True):
            self._flights[seq.seq_id] = Flight(seq.reply_to, replica, entry, now)
        # Count it as waiting until the replica's next report does.
        self.loads[replica] = {**self.loads[replica], "waiting": self.loads[replica]["waiting"] + len(seqs)}  # fmt: skip

    def abort(self, seq_ids: list[str]) -> None:
        try:
            pipe = self._sync.pipeline(transaction=False)
            for seq_id in seq_ids:
                flight = self._flights.pop(seq_id, None)
                if flight is not None:
                    pipe.xadd(wire.request_stream(flight.replica), wire.encode_abort(seq_id))
            pipe.execute()
        except RedisError as exc:  # the scheduler finishes them and nobody listens: harmless
            log.warning("could not abort %d sequences: %s", len(seq_ids), exc)

    def load(self) -> SchedulerLoad:
        replica = self.pick()
        if replica is None:
            return SchedulerLoad(0, 0)
        x = self.loads[replica]
        return SchedulerLoad(x["waiting"], x["running"])

    # ---- background -------------------------------------------------------------------
    async def _load_loop(self) -> None:
        while not self._stopping:
            try:
                self.loads = _parse_loads(await self.redis.hgetall(wire.REPLICAS_KEY))
                for r, x in self.loads.items():
                    self._reported[r] = max(self._reported.get(r, 0.0), x["t"])
                self._loads_at = time.monotonic()
            except RedisError:
                pass  # the read loop notices and reports it
            await asyncio.sleep(LOADS_EVERY_S)

    async def _read_loop(self) -> None:
        down_since: float | None = None  # the bus has failed since then, not come back yet
        gave_up = False
        while not self._stopping:
            try:
                if not self.connected:
                    await self.redis.ping()
                    if self.clock is not None:  # the bus may have lost the epoch: re-assert
                        self.clock.set_epoch(await wire.shared_epoch(self.redis, self.clock.epoch_s))  # fmt: skip
                    # A concrete id, not "$": "$" would miss what comes between two reads.
                    if self._read_upto is None:
                        self._read_upto = await stream_tail(self.redis, self.stream)
                    self.connected = True
                    log.info("redis available")
                reply = await self.redis.xread(
                    {self.stream: self._read_upto}, count=1000, block=500
                )
                down_since, gave_up = None, False  # back only once reads work again
                for _, entries in reply or []:
                    for entry_id, fields in entries:
                        self._read_upto = entry_id
                        self._dispatch_entry(entry_id, fields)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a fault of ours too: logged, and requests still end
                if self._stopping:
                    return
                if not isinstance(exc, RedisError):
                    log.exception("the event reader failed")
                elif self.connected:
                    log.warning("redis unavailable: %s", exc)
                self.connected = False  # new requests get a 503 meanwhile
                # A read that failed once (a timeout while this process stalled) resumes
                # where it was, losing nothing: requests in flight fail only when the bus
                # stays away.
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since >= BUS_GRACE_S:
                    if not gave_up:
                        self._fail_in_flight()
                        gave_up = True
                    elif self._flights:
                        self._fail(list(self._flights), BUS_LOST, 503)
                await asyncio.sleep(RETRY_S)

    def _dispatch_entry(self, entry_id: str, fields: dict) -> None:
        try:
            by_reply = wire.decode_events(fields)
        except (ValueError, TypeError, KeyError) as exc:  # e.g. a newer scheduler's fields
            log.error("skipped event entry %s that cannot be read: %r", entry_id, exc)
            return
        self._dispatch(by_reply)

    def _dispatch(self, by_reply: dict[str, list[TokenEvent]]) -> None:
        for reply_to, events in by_reply.items():
            queue = self._subs.get(reply_to)
            if queue is None:
                continue
            fresh = []
            now = time.monotonic()
            for ev in events:
                flight = self._flights.get(ev.seq_id)
                if flight is None:
                    continue  # already ended here
                flight.heard_s = now
                if ev.finish_reason is None and ev.generated <= flight.delivered:
                    continue  # a re-delivered sequence catching up with what was sent
                if ev.generated < flight.delivered:  # an error of a re-delivered sequence
                    ev = replace(ev, generated=flight.delivered)
                flight.delivered = max(flight.delivered, ev.generated)
                if ev.finish_reason is not None:
                    del self._flights[ev.seq_id]
                fresh.append(ev)
            if fresh:
                queue.put_nowait(fresh)

    def _fail_in_flight(self) -> None:
        """The bus went away: nothing more will arrive for the requests in flight."""
        told = self._fail(list(self._flights), BUS_LOST, 503)
        for reply_to, queue in self._subs.items():
            if reply_to not in told:
                queue.put_nowait(None)  # nothing in flight: the subscription is over

    def _fail(self, seq_ids: list[str], message: str, status: int) -> set[str]:
        """End these sequences here with an error event; returns the requests told."""
        now_s = self.clock.now() if self.clock is not None else 0.0
        by_reply: dict[str, list[TokenEvent]] = {}
        for seq_id in seq_ids:
            flight = self._flights.pop(seq_id, None)
            if flight is None:  # ended while the watch was asking Redis
                continue
            event = TokenEvent(seq_id, flight.delivered, now_s, "error", error=message, status=status)  # fmt: skip
            by_reply.setdefault(flight.reply_to, []).append(event)
        for reply_to, events in by_reply.items():
            queue = self._subs.get(reply_to)
            if queue is not None:
                queue.put_nowait(events)
        return set(by_reply)

    # ---- the watch over quiet sequences ----------------------------------------------
    async def _watch_loop(self) -> None:
        ended: dict[str, str] = {}  # seq_id -> event entry its end must be at or before
        failing = None
        while not self._stopping:
            await asyncio.sleep(self.watch_every_s)
            try:
                ended = await self._watch(ended)
                failing = None
            except RedisError:
                pass  # the read loop notices and reports it
            except Exception as exc:  # e.g. a Redis user not allowed XINFO: say it once
                if repr(exc) != failing:
                    log.warning("cannot watch the requests in flight: %r", exc)
                failing = repr(exc)

    async def _watch(self, ended: dict[str, str]) -> dict[str, str]:
        """One look: returns the sequences found finished whose end has not been read yet."""
        read_upto = stream_id(self._read_upto or "0-0")
        lost = [s for s, tail in ended.items() if s in self._flights and stream_id(tail) <= read_upto]  # fmt: skip
        self._fail(lost, "The scheduler replica finished this request, but its last events never reached the gateway; retry it.", 500)  # fmt: skip
        ended = {s: tail for s, tail in ended.items() if s in self._flights}
        now = time.monotonic()
        quiet = {
            s: f
            for s, f in self._flights.items()
            if now - max(f.heard_s, f.asked_s) > self.quiet_s and s not in ended
        }
        silent = [s for s, f in quiet.items() if self._silent(f.replica)]
        for s in silent:
            quiet.pop(s)
        await self._abandon(silent)
        found = await stands(self.redis, quiet) if quiet else {}
        now = time.monotonic()
        for s, stand in found.items():
            if stand is not Stand.ENDED and s in self._flights:
                self._flights[s].asked_s = now
        # A replica that read the entry before Redis lost it may still finish it: wait as
        # for a silent replica.
        gone = [s for s, stand in found.items() if stand is Stand.GONE and s in self._flights and now - self._flights[s].heard_s > self.replica_lost_s]  # fmt: skip
        self._fail(gone, "The message bus (Redis) lost this request; retry it.", 503)
        # Its end event was written before the entry was acknowledged, so it is in the
        # event stream by now: if the reader passes the tail without it, it was lost.
        finished = [s for s, stand in found.items() if stand is Stand.ENDED]
        if finished:
            tail = await stream_tail(self.redis, self.stream)
            ended |= dict.fromkeys(finished, tail)
        return ended

    def _silent(self, replica: str) -> bool:
        """The replica has not reported for `replica_lost_s`, as far as reports read in the
        last second say (a gateway that could not read them cannot tell)."""
        if time.monotonic() - self._loads_at > 1.0:
            return False
        return time.time() - self._reported.get(replica, 0.0) > self.replica_lost_s

    async def _abandon(self, seq_ids: list[str]) -> None:
        """Fail the sequences of replicas that stopped, and abort their entries, so that a
        replica restarted later does not run what nobody waits for."""
        if not seq_ids:
            return
        entries = [(s, self._flights[s].replica) for s in seq_ids]
        replicas = ", ".join(sorted({r for _, r in entries}))
        message = f"The scheduler replica {replicas} stopped reporting for {self.replica_lost_s:g} s while serving this request; retry it."  # fmt: skip
        self._fail(seq_ids, message, 503)
        try:
            pipe = self.redis.pipeline(transaction=False)
            for seq_id, replica in entries:
                pipe.xadd(wire.request_stream(replica), wire.encode_abort(seq_id))
            await pipe.execute()
        except RedisError as exc:
            log.warning("could not abort %d sequences of a silent replica: %s", len(entries), exc)


class _BusReplica:
    """A replica as the routers see it, from its last load report on the bus."""

    __slots__ = ("name", "num_waiting", "num_running", "kv_usage", "num_assigned")

    def __init__(self, name: str, report: dict, assigned: int) -> None:
        self.name = name
        self.num_waiting, self.num_running = report["waiting"], report["running"]
        self.kv_usage = report["kv"]
        self.num_assigned = assigned

    def cached_blocks(self, hashes: tuple[int, ...]) -> int:
        return 0


def _parse_loads(raw: dict[str, str]) -> dict[str, dict]:
    """The replicas' reports; one that cannot be read is left out (and so looks silent)."""
    loads = {}
    for replica, value in raw.items():
        try:
            load = json.loads(value)
            float(load["t"])
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable report of replica %s: %.200s", replica, value)
            continue
        loads[replica] = load
    return loads
