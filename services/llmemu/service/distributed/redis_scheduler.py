"""The scheduler's side of the Redis transport (a SchedulerTransport for SchedulerService).

It reads this replica's request stream through the consumer group: first the entries it was
given before and never acknowledged (a restart re-delivers them, and entries another consumer
of the stream left idle are claimed), then new ones, but only while the replica admits.
Events go out once per iteration per gateway; a sequence's entry is acknowledged when its
last event (finished, aborted or failed) has been written, never before. Acknowledged entries
are trimmed from the stream once `keep_acked_s` old, so it does not grow for ever; the
gateway's watch (redis_watch.py) reads the entries of the last minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from llmemu.protocol.internal import AbortSequence, SchedulerLoad, SubmitSequence, TokenEvent
from llmemu.service.distributed import redis_wire as wire
from llmemu.service.distributed.epoch_clock import EpochClock
from llmemu.service.distributed.redis_watch import stream_id
from llmemu.service.live.transport import CommandInbox

log = logging.getLogger("llmemu.scheduler.redis")
RETRY_S = 0.2
FUTURE_TOLERANCE_S = 1.0
TRIM_EVERY_S = 10.0
PAGE = 512
"""Entries read per call."""
CLAIM_IDLE_MS = 5_000
"""Entries another consumer left unacknowledged this long are taken over (a dead peer)."""


class RedisSchedulerTransport(CommandInbox):
    def __init__(
        self, redis: Redis, replica: str, *, read_block_ms: int = 200, keep_acked_s: float = 60.0
    ) -> None:
        super().__init__()
        self.redis = redis
        self.replica = replica
        self.stream = wire.request_stream(replica)
        self.read_block_ms = read_block_ms
        self.refusing: Callable[[], str | None] = lambda: None
        """Why the replica cannot run iterations now (a device worker is down), asked as each
        request arrives; meanwhile requests fail at once with a 503 instead of waiting."""
        self.clock: EpochClock | None = None
        """The scheduler's clock (set by its node): never moves; re-asserted after a loss."""
        self.connected = False
        self._entry: dict[str, str] = {}  # seq_id -> stream entry id
        self._gateway: dict[str, str] = {}  # reply_to -> gateway id
        self._open: dict[str, int] = {}  # reply_to -> its sequences not ended yet
        self._out: dict[str, dict[str, list[TokenEvent]]] = {}
        self._acks: list[str] = []
        self._flush_task: asyncio.Task[None] | None = None
        self._load: Callable[[], SchedulerLoad] = lambda: SchedulerLoad(0, 0)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.keep_acked_s = keep_acked_s
        self._read_upto: str | None = None  # the newest entry read
        self._trimmed_at = 0.0

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._read_loop()))

    async def stop(self) -> None:
        self._stopping = True  # redis-py can swallow the cancellation of a blocking read
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._flush()

    # ---- SchedulerTransport (drain, wait: CommandInbox) -------------------------------
    def publish(self, reply_to: str, events: list[TokenEvent]) -> None:
        gateway = self._gateway.get(reply_to)
        if gateway is None:
            return
        self._out.setdefault(gateway, {}).setdefault(reply_to, []).extend(events)
        for ev in events:
            if ev.finish_reason is not None:
                self._ended(ev.seq_id, reply_to)
        # Everything one iteration publishes is written together, after it: one entry per
        # gateway per iteration.
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush())

    def _ended(self, seq_id: str, reply_to: str | None) -> None:
        entry = self._entry.pop(seq_id, None)
        if entry is not None:
            self._acks.append(entry)
        if reply_to is not None:
            left = self._open.get(reply_to, 1) - 1
            if left > 0:
                self._open[reply_to] = left
            else:
                self._open.pop(reply_to, None)
                self._gateway.pop(reply_to, None)

    def report_load(self, load: Callable[[], SchedulerLoad]) -> None:
        self._load = load

    def load(self) -> SchedulerLoad:
        return self._load()

    # ---- Redis I/O --------------------------------------------------------------------
    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the iteration finish publishing
        # Iterations that end while a write is in flight are written right after it.
        while self._out or self._acks:
            out, self._out = self._out, {}
            acks, self._acks = self._acks, []
            try:
                pipe = self.redis.pipeline(transaction=False)
                for gateway, by_reply in out.items():
                    stream = wire.event_stream(gateway)
                    events = wire.encode_events(by_reply)
                    pipe.xadd(stream, events, maxlen=wire.EVENTS_MAXLEN, approximate=True)
                if acks:
                    pipe.xack(self.stream, wire.GROUP, *acks)
                await pipe.execute()
            except (RedisConnectionError, RedisTimeoutError) as exc:
                # Not written: written again once the bus is back (the gateway drops the
                # tokens it has and an end it has seen; an XACK may be repeated).
                log.warning("could not publish %d gateway batches: %s", len(out), exc)
                self._put_back(out, acks)
                if self._stopping:  # stop() tries once more, then leaves them pending
                    return
                await asyncio.sleep(RETRY_S)
                continue
            except RedisError as exc:  # a command refused (e.g. out of memory): no retry
                log.error("could not publish %d gateway batches: %s", len(out), exc)
            with contextlib.suppress(RedisError):
                await self._trim()

    def _put_back(self, out: dict[str, dict[str, list[TokenEvent]]], acks: list[str]) -> None:
        """What a failed write held, before what came meanwhile."""
        for gateway, by_reply in self._out.items():
            for reply_to, events in by_reply.items():
                out.setdefault(gateway, {}).setdefault(reply_to, []).extend(events)
        self._out, self._acks = out, acks + self._acks

    async def _trim(self) -> None:
        """Every TRIM_EVERY_S, drop entries older than every pending one (any consumer's),
        than the newest read here (those after it are unread), and than `keep_acked_s`
        before it."""
        now = time.monotonic()
        if self._read_upto is None or now - self._trimmed_at < TRIM_EVERY_S:
            return
        self._trimmed_at = now
        pending = await self.redis.xpending(self.stream, wire.GROUP)
        ms, _ = stream_id(self._read_upto)
        keep_ms = int(self.keep_acked_s * 1000)
        horizon = f"{max(0, ms - keep_ms)}-0" if keep_ms else self._read_upto
        floor = [self._read_upto, horizon]
        if pending["pending"]:
            floor.append(pending["min"])
        await self.redis.xtrim(self.stream, minid=min(floor, key=stream_id), approximate=False)

    async def _read_loop(self) -> None:
        backlog = True  # first our own unacknowledged entries, then new ones
        while not self._stopping:
            try:
                if not self.connected:
                    await self._ensure_group()
                    if self.clock is not None:
                        await wire.shared_epoch(self.redis, self.clock.epoch_s)
                    self.connected = True
                    backlog = True
                if backlog:
                    got = await self._read_backlog()
                    backlog = False
                else:
                    got = self._accept(await self._read(">"))
                if got:
                    self._wakeup.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a fault of ours too: logged, then read again
                if not isinstance(exc, RedisError):
                    log.exception("the request reader failed")
                elif self.connected:
                    log.warning("redis unavailable: %s", exc)
                self.connected = False
                await asyncio.sleep(RETRY_S)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, wire.GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, start: str) -> list:
        """New entries (">"), or this consumer's unacknowledged ones after `start`."""
        block = None if start != ">" else self.read_block_ms
        reply = await self.redis.xreadgroup(
            wire.GROUP, self.replica, {self.stream: start}, count=PAGE, block=block
        )
        return [e for _, items in reply or [] for e in items]

    async def _read_backlog(self) -> int:
        """Every entry given to this replica and never acknowledged (it restarted), page by
        page, then those another consumer of the stream left idle."""
        got, start = 0, "0"
        while True:
            entries = await self._read(start)
            got += self._accept(entries)
            if len(entries) < PAGE:
                break
            start = entries[-1][0]
        cursor = "0-0"
        while True:
            cursor, entries, *_ = await self.redis.xautoclaim(
                self.stream, wire.GROUP, self.replica, CLAIM_IDLE_MS, cursor, count=PAGE
            )
            got += self._accept(entries)
            if cursor == "0-0":
                return got

    def refuse_queued(self) -> None:
        """Fail the requests taken in but not yet handed to an engine loop that has died."""
        kept = []
        for cmd in self._commands:
            entry = self._entry.pop(cmd.seq_id, None) if isinstance(cmd, SubmitSequence) else None
            if entry is None:
                kept.append(cmd)
                continue
            self._open[cmd.reply_to] = self._open.get(cmd.reply_to, 1) - 1
            self._refuse(cmd, self._gateway.get(cmd.reply_to, ""), entry)
        self._commands = kept

    def _refuse(self, cmd: SubmitSequence, gateway: str, entry_id: str) -> None:
        message = f"The replica {self.replica} cannot run requests now: {self.refusing()}"
        self._fail_entry(cmd.seq_id, cmd.reply_to, gateway, entry_id, message, 503)

    def _unreadable(self, entry_id: str, fields: dict, exc: Exception) -> None:
        """An entry this replica cannot read: fail its request if it names one, and
        acknowledge it, so that it neither hangs nor stops the reader at every restart."""
        log.error("request entry %s cannot be read: %r", entry_id, exc)
        try:
            body = json.loads(fields["m"])
            seq_id, reply_to, gateway = body["seq_id"], body["reply_to"], fields["gw"]
        except (ValueError, TypeError, KeyError):
            self._acks.append(entry_id)
            return
        message = f"The scheduler replica {self.replica} could not read this request ({exc!r})."
        self._fail_entry(seq_id, reply_to, gateway, entry_id, message, 500)

    def _fail_entry(
        self, seq_id: str, reply_to: str, gateway: str, entry_id: str, message: str, status: int
    ) -> None:
        """End a sequence that never reaches the engine with an error event; its entry is
        acknowledged once that is written."""
        self._gateway[reply_to] = gateway
        self._entry[seq_id] = entry_id
        self._open[reply_to] = self._open.get(reply_to, 0) + 1
        event = TokenEvent(seq_id, 0, self._now(), "error", error=message, status=status)
        self.publish(reply_to, [event])

    def _now(self) -> float:
        return self.clock.now() if self.clock is not None else 0.0

    def _accept(self, entries) -> int:
        acks = []
        for entry_id, fields in entries:
            if self._read_upto is None or stream_id(entry_id) > stream_id(self._read_upto):
                self._read_upto = entry_id
            if not fields:  # deleted while pending
                acks.append(entry_id)
                continue
            try:
                cmd, gateway = wire.decode_command(fields)
            except (ValueError, TypeError, KeyError) as exc:  # e.g. a newer gateway's fields
                self._unreadable(entry_id, fields, exc)
                continue
            if isinstance(cmd, SubmitSequence) and self.refusing() is not None:
                self._refuse(cmd, gateway or "", entry_id)
                continue
            if isinstance(cmd, SubmitSequence):
                now_s = self._now()
                if cmd.arrival_s > now_s + FUTURE_TOLERANCE_S:
                    # Stamped on another time line (the epoch was lost and set anew while
                    # this gateway was away): it arrived now, not in the future.
                    cmd = replace(cmd, arrival_s=now_s)
                if cmd.seq_id in self._entry:
                    continue  # already running here (re-read after a reconnect)
                self._entry[cmd.seq_id] = entry_id
                self._gateway[cmd.reply_to] = gateway or ""
                self._open[cmd.reply_to] = self._open.get(cmd.reply_to, 0) + 1
            elif isinstance(cmd, AbortSequence):
                # The gateway gave up on the sequence: nobody waits for its end event.
                acks.append(entry_id)
                if cmd.seq_id in self._entry:
                    self._acks.append(self._entry.pop(cmd.seq_id))
            self._commands.append(cmd)
        if acks:
            self._acks.extend(acks)
        return len(entries)
