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
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from llmemu.protocol.internal import AbortSequence, SchedulerLoad, SubmitSequence, TokenEvent
from llmemu.service import redis_wire as wire
from llmemu.service.epoch_clock import EpochClock
from llmemu.service.redis_watch import stream_id
from llmemu.service.transport import CommandInbox

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
                self._trim(pipe)
                await pipe.execute()
            except RedisError as exc:
                # The bus is gone: the events are lost, and the entries stay pending, so
                # the sequences are re-run after a restart rather than lost.
                log.warning("could not publish %d gateway batches: %s", len(out), exc)

    def _trim(self, pipe) -> None:
        """Drop entries older than every one still unacknowledged here, than the newest read
        (those after it are unread), and than `keep_acked_s`, every TRIM_EVERY_S."""
        now = time.monotonic()
        if self._read_upto is None or now - self._trimmed_at < TRIM_EVERY_S:
            return
        self._trimmed_at = now
        horizon = f"{int((time.time() - self.keep_acked_s) * 1000)}-0"
        floor = min([*self._entry.values(), self._read_upto, horizon], key=stream_id)
        pipe.xtrim(self.stream, minid=floor, approximate=False)

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
            except RedisError as exc:
                if self.connected:
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
        event = TokenEvent(cmd.seq_id, 0, self._now(), "error", error=message, status=503)
        self._gateway[cmd.reply_to] = gateway
        self._entry[cmd.seq_id] = entry_id
        self._open[cmd.reply_to] = self._open.get(cmd.reply_to, 0) + 1
        self.publish(cmd.reply_to, [event])

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
            cmd, gateway = wire.decode_command(fields)
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
