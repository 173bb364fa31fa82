"""The gateway's side of the Redis transport (a GatewayTransport for the Gateway).

`submit` writes a request's sequences on the stream of the replica with the fewest waiting
sequences (then the lowest KV usage), among replicas that reported themselves healthy in the
last `stale_s`. With Redis unreachable, or no healthy replica, it raises a 503 at once; a
background task reconnects by itself. Token events come back on this gateway's own stream;
events a re-delivered sequence repeats (a restarted scheduler runs it again from the start)
are dropped, so a client sees each token once.
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

from llmemu.protocol.internal import SchedulerLoad, SubmitSequence, TokenEvent
from llmemu.service import redis_wire as wire
from llmemu.service.epoch_clock import EpochClock
from llmemu.service.errors import ApiError
from llmemu.service.transport import Events

log = logging.getLogger("llmemu.gateway.redis")
RETRY_S = 0.2
LOADS_EVERY_S = 0.1


class BusUnavailable(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(503, message, headers={"Retry-After": "1"})


class RedisGatewayTransport:
    def __init__(self, url: str, gateway_id: str | None = None, *, stale_s: float = 2.0) -> None:
        self.gateway_id = gateway_id or uuid.uuid4().hex[:12]
        self.stream = wire.event_stream(self.gateway_id)
        self.redis = Redis.from_url(url, decode_responses=True, socket_timeout=2.0)
        # submit() is synchronous (the Gateway calls it inline); a short timeout keeps a
        # request from hanging on a dead bus: it gets its 503 at once.
        self._sync = SyncRedis.from_url(url, decode_responses=True, socket_timeout=0.5, socket_connect_timeout=0.5)  # fmt: skip
        self.stale_s = stale_s
        self.connected = False
        self.loads: dict[str, dict] = {}
        self._subs: dict[str, asyncio.Queue[Events]] = {}
        self._seen: dict[str, int] = {}  # seq_id -> tokens delivered
        self._replica_of: dict[str, str] = {}  # seq_id -> replica stream
        self._tasks: list[asyncio.Task[None]] = []
        self.model: str | None = None
        """Served model name: only replicas of this model get this gateway's requests."""
        self.clock: EpochClock | None = None
        """The gateway's clock (set by the app): stamps events it makes up, follows the epoch."""

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks += [loop.create_task(self._read_loop()), loop.create_task(self._load_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.close_all()
        await self.redis.aclose()
        self._sync.close()

    def close_all(self) -> None:
        for queue in self._subs.values():
            queue.put_nowait(None)

    # ---- GatewayTransport -------------------------------------------------------------
    def subscribe(self, reply_to: str) -> asyncio.Queue[Events]:
        queue: asyncio.Queue[Events] = asyncio.Queue()
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

    def pick(self) -> str | None:
        now = time.time()
        fresh = [
            (r, x)
            for r, x in self.loads.items()
            if x["healthy"] and now - x["t"] < self.stale_s and x.get("model") == self.model
        ]
        if not fresh:
            return None
        return min(fresh, key=lambda rx: (rx[1]["waiting"], rx[1]["kv"], rx[0]))[0]

    def submit(self, seqs: list[SubmitSequence]) -> None:
        self.check()
        replica = self.pick()
        stream = wire.request_stream(replica)
        try:
            pipe = self._sync.pipeline(transaction=False)
            for seq in seqs:
                pipe.xadd(stream, wire.encode_submit(seq, self.gateway_id))
            pipe.execute()
        except RedisError as exc:
            self.connected = False
            raise BusUnavailable(f"The message bus (Redis) is unavailable ({type(exc).__name__}); retry shortly.") from exc  # fmt: skip
        for seq in seqs:
            self._replica_of[seq.seq_id] = stream
            self._seen[seq.seq_id] = 0
        # Count it as waiting until the replica's next report does.
        self.loads[replica] = {**self.loads[replica], "waiting": self.loads[replica]["waiting"] + len(seqs)}  # fmt: skip

    def abort(self, seq_ids: list[str]) -> None:
        try:
            pipe = self._sync.pipeline(transaction=False)
            for seq_id in seq_ids:
                stream = self._replica_of.pop(seq_id, None)
                self._seen.pop(seq_id, None)
                if stream is not None:
                    pipe.xadd(stream, wire.encode_abort(seq_id))
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
        while True:
            try:
                raw = await self.redis.hgetall(wire.REPLICAS_KEY)
                self.loads = {r: json.loads(v) for r, v in raw.items()}
            except RedisError:
                pass  # the read loop notices and reports it
            await asyncio.sleep(LOADS_EVERY_S)

    async def _read_loop(self) -> None:
        last = "$"
        while True:
            try:
                if not self.connected:
                    await self.redis.ping()
                    if self.clock is not None:  # the bus may have lost the epoch: re-assert
                        self.clock.set_epoch(await wire.shared_epoch(self.redis, self.clock.epoch_s))  # fmt: skip
                    self.connected = True
                    log.info("redis available")
                reply = await self.redis.xread({self.stream: last}, count=1000, block=500)
                for _, entries in reply or []:
                    for entry_id, fields in entries:
                        last = entry_id
                        self._dispatch(wire.decode_events(fields))
            except asyncio.CancelledError:
                raise
            except RedisError as exc:
                if self.connected:
                    log.warning("redis unavailable: %s", exc)
                    self._fail_in_flight()
                self.connected = False
                await asyncio.sleep(RETRY_S)

    def _dispatch(self, by_reply: dict[str, list[TokenEvent]]) -> None:
        for reply_to, events in by_reply.items():
            queue = self._subs.get(reply_to)
            if queue is None:
                continue
            fresh = []
            for ev in events:
                seen = self._seen.get(ev.seq_id)
                if seen is None:
                    continue  # already ended here
                if ev.finish_reason is None and ev.generated <= seen:
                    continue  # a re-delivered sequence catching up with what was sent
                if ev.generated < seen:  # an error of a re-delivered sequence
                    ev = replace(ev, generated=seen)
                self._seen[ev.seq_id] = max(seen, ev.generated)
                if ev.finish_reason is not None:
                    self._seen.pop(ev.seq_id, None)
                    self._replica_of.pop(ev.seq_id, None)
                fresh.append(ev)
            if fresh:
                queue.put_nowait(fresh)

    def _fail_in_flight(self) -> None:
        """The bus went away: nothing more will arrive for the requests in flight."""
        message = "The message bus (Redis) became unavailable during the request."
        for reply_to, queue in list(self._subs.items()):
            seq_ids = [s for s in self._seen if s.startswith(reply_to)]
            now_s = self.clock.now() if self.clock is not None else 0.0
            events = [TokenEvent(s, self._seen[s], now_s, "error", error=message, status=503) for s in seq_ids]  # fmt: skip
            for s in seq_ids:
                self._seen.pop(s, None)
                self._replica_of.pop(s, None)
            queue.put_nowait(events or None)
