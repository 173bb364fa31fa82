"""The scheduler service: one asyncio task runs the core Engine step after step, in real time.

After computing an iteration of emulated duration d that starts at emulated time t, it
stages the iteration's tokens (the streams format their chunks), sleeps until the wall moment
of t + d and then releases them (the streams write), so each token leaves when the
emulated iteration that produced it ends, and the burst of writes at that moment carries no
formatting. The burst begins half its predicted length early (lead.py): its writes, one
after another, then straddle the moment instead of all trailing it. An iteration starts when
the previous one ended, or, after an idle spell, at the arrival that woke the engine; a
host that falls behind does not move the emulated schedule, it shows up as pacing lag.

It talks to gateways only through a SchedulerTransport, so the same object runs behind the
in-memory transport (embedded default) or a network one.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from llmemu.core.engine import StepResult
from llmemu.core.fleet.prompts import token_block_hashes
from llmemu.core.replica import Replica
from llmemu.core.request import Request, Status
from llmemu.protocol.internal import AbortSequence, SchedulerLoad, SubmitSequence, TokenEvent
from llmemu.service.live.clock import RealTimeClock
from llmemu.service.live.heap import collect_due
from llmemu.service.live.lead import BurstLead
from llmemu.service.live.transport import Release, SchedulerTransport

log = logging.getLogger("llmemu.scheduler")


class EngineObserver(Protocol):
    """What the metrics see, at the moments vLLM observes them (emulated seconds)."""

    def on_step(self, result: StepResult, start_s: float, end_s: float) -> None: ...
    def on_first_token(self, req: Request) -> None: ...
    def on_tokens(self, gap_s: float, count: int) -> None:
        """`count` tokens of this iteration came `gap_s` after their sequences' previous."""

    def on_finish(self, req: Request, seq: SubmitSequence, reason: str) -> None: ...
    def on_pacing_lag(self, lag_s: float) -> None:
        """Wall seconds by which an iteration's burst of tokens began after its planned
        start (half a burst before the iteration's end, lead.py)."""


@dataclass(slots=True)
class _Seq:
    msg: SubmitSequence
    req: Request
    last_token_s: float | None = None


class SchedulerService:
    def __init__(
        self,
        replica: Replica,
        clock: RealTimeClock,
        transport: SchedulerTransport,
        observer: EngineObserver,
    ) -> None:
        self.replica = replica
        self.engine = replica.engine
        self.clock = clock
        self.transport = transport
        self.observer = observer
        self.dead: str | None = None
        """Why the engine stopped, if it did (the health check reports it)."""
        self._seqs: dict[str, _Seq] = {}
        self._last_end_s = 0.0
        self._outside: list[SubmitSequence] = []
        """Submitted sequences not yet handed to the engine (see _admit)."""
        self._task: asyncio.Task[None] | None = None
        self._burst_s: float | None = None
        """The emulated moment the staged iteration's burst begins (its tokens are not out)."""
        self._lead = BurstLead()
        self._after_burst: list[Callable[[], None]] = []
        transport.report_load(self.load)

    # ---- the request gate's view (service/live/pacing.py Bursts) --------------------------
    def room_s(self) -> float:
        """Wall seconds until the staged iteration's burst begins (inf: none staged)."""
        return math.inf if self._burst_s is None else -self.clock.lag_s(self._burst_s)

    def after_burst(self, callback: Callable[[], None]) -> None:
        if self._burst_s is None:
            callback()
        else:
            self._after_burst.append(callback)

    def _burst_out(self) -> None:
        """The staged tokens are out, or never will be (the loop stopped): call back."""
        self._burst_s = None
        callbacks, self._after_burst = self._after_burst, []
        for callback in callbacks:
            callback()

    def load(self) -> SchedulerLoad:
        sched = self.engine.scheduler
        return SchedulerLoad(len(sched.waiting) + len(self._outside), len(sched.running))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._fail_all("the server is shutting down")

    # ---- the loop ---------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while True:
                self._apply(self.transport.drain())
                start_s = self._next_start_s()
                if start_s is None:
                    await self.transport.wait()
                    continue
                start_s += self._admit(start_s)
                result = self.engine.step(start_s)
                if result is None:  # work that cannot be scheduled yet: wait for a change
                    await self.transport.wait()
                    continue
                end_s = start_s + result.duration_s
                release, seen, writes = self._stage(result, end_s)
                lead_s = self._lead.lead_s(writes, result.duration_s / self.clock.speed)
                burst_s = end_s - lead_s * self.clock.speed
                # The last iteration's events and chunks are garbage by now; the collector's
                # pause here delays no token unless it outlasts the iteration (heap.py).
                collect_due(room_s=-self.clock.lag_s(burst_s))
                self._burst_s = burst_s
                try:
                    await self.clock.sleep_until(burst_s)
                except asyncio.CancelledError:  # the tokens are computed: out before the errors
                    release()
                    raise
                began_s = self.clock.lag_s(burst_s)
                self._last_end_s = end_s
                release()
                self._lead.observe(writes, self.clock.lag_s(burst_s) - began_s)
                self._burst_out()
                # How late the burst began against its plan: the host falling behind. The
                # spread of a burst is in each token's lag (the emission histogram).
                self.observer.on_pacing_lag(began_s)
                # The streams have written their bytes, so observing now delays no token, and
                # a client that read its last token and scrapes /metrics at once finds its
                # request and iteration counted.
                self._observe(result, start_s, end_s, seen)
                del release, seen, result  # garbage before the next collection, not survivors
                await asyncio.sleep(0)  # what the writes readied runs before the next step
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the last resort: no request may hang on a dead engine
            log.exception("engine step failed")
            self.dead = f"engine error: {type(exc).__name__}: {exc}"
            self._fail_all(self.dead, getattr(exc, "status", 500))
        finally:  # stopped or dead: the gate's waiters go on (to be told, if it is dead)
            self._burst_out()

    def _next_start_s(self) -> float | None:
        """The emulated moment the next iteration starts: when the last one ended while
        there is work, else at the earliest arrival still outside the engine."""
        if self.engine.has_work():
            return self._last_end_s
        if self._outside:
            return max(self._last_end_s, min(c.arrival_s for c in self._outside))
        return None

    def _admit(self, start_s: float) -> float:
        """Hand the engine the sequences that had arrived by `start_s`. The loop reaches this
        point a little after `start_s` on the wall clock; a sequence stamped in between
        waits for the next iteration, as it would have on the emulated hardware. Returns
        the seconds the next iteration waits for host-tier prefix blocks to be copied back."""
        later = []
        for cmd in self._outside:
            if cmd.arrival_s <= start_s:
                self._lookup_prefix(self._add(cmd))
            else:
                later.append(cmd)
        self._outside = later
        take_load_s = getattr(self.engine.kv, "take_load_s", None)
        return take_load_s() if take_load_s is not None else 0.0

    def _lookup_prefix(self, seq: _Seq) -> None:
        """Take the cached leading blocks of the prompt (keys chained over its real token
        ids with this replica's block size, as vLLM's), as the offline fleet does on arrival."""
        kv = self.engine.kv
        ids = seq.msg.prompt_token_ids
        if ids and hasattr(kv, "set_hashes"):
            kv.set_hashes(seq.req, token_block_hashes(ids, kv.block_size))
            kv.admit(seq.req)

    def _add(self, cmd: SubmitSequence) -> _Seq:
        req = self.engine.new_request(cmd.arrival_s, cmd.prompt_tokens, cmd.output_tokens)
        req.tag = seq = _Seq(cmd, req)
        self._seqs[cmd.seq_id] = seq
        return seq

    def _apply(self, commands: list[SubmitSequence | AbortSequence]) -> None:
        for cmd in commands:
            if isinstance(cmd, SubmitSequence):
                self._outside.append(cmd)
                continue
            seq = self._seqs.pop(cmd.seq_id, None)
            if seq is None:  # not in the engine yet: add it only to count its abort alike
                waiting = next((c for c in self._outside if c.seq_id == cmd.seq_id), None)
                if waiting is None:
                    continue
                self._outside.remove(waiting)
                seq = self._add(waiting)
                del self._seqs[cmd.seq_id]
            if not seq.req.done:
                self.engine.abort(seq.req)
                self.observer.on_finish(seq.req, seq.msg, "abort")

    def _stage(self, result: StepResult, end_s: float) -> tuple[Release, list[tuple[Request, _Seq, float | None, str | None]], int]:  # fmt: skip
        """Stage the iteration's tokens with the transport; return its release, what the
        metrics will observe once the tokens are out (metrics never delay a token) and how
        many subscribers the release writes to."""
        by_reply: dict[str, list[TokenEvent]] = {}
        finished = Status.FINISHED
        seqs = self._seqs
        seen = []
        for req in result.emitted:
            seq: _Seq = req.tag
            msg = seq.msg
            reason = msg.finish_reason if req.status is finished else None
            event = TokenEvent(msg.seq_id, req.generated, end_s, reason)
            by_reply.setdefault(msg.reply_to, []).append(event)
            gap_s = None if seq.last_token_s is None else end_s - seq.last_token_s
            seq.last_token_s = end_s
            if reason is not None:
                del seqs[msg.seq_id]
            seen.append((req, seq, gap_s, reason))
        return self.transport.stage(by_reply), seen, len(by_reply)

    def _observe(self, result: StepResult, start_s: float, end_s: float, seen) -> None:
        observer = self.observer
        # Sequences that also ran the previous iteration share one gap: observed together.
        gaps: dict[float, int] = {}
        for req, seq, gap_s, reason in seen:
            if gap_s is None:
                observer.on_first_token(req)
            else:
                gaps[gap_s] = gaps.get(gap_s, 0) + 1
            if reason is not None:
                observer.on_finish(req, seq.msg, reason)
        for gap_s, count in gaps.items():
            observer.on_tokens(gap_s, count)
        observer.on_step(result, start_s, end_s)

    def _fail_all(self, message: str, status: int = 500) -> None:
        self._apply(self.transport.drain())
        for cmd in self._outside:
            self._add(cmd)
        self._outside = []
        now_s = self.clock.now()
        for seq_id, seq in list(self._seqs.items()):
            if not seq.req.done:
                self.engine.abort(seq.req)
            self.observer.on_finish(seq.req, seq.msg, "error")
            event = TokenEvent(
                seq_id, seq.req.generated, now_s, "error", error=message, status=status
            )
            self.transport.publish(seq.msg.reply_to, [event])
        self._seqs.clear()
