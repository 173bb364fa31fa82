"""Run a fleet on one virtual clock.

Three kinds of event drive it: a request arrives (routed at its arrival time), a KV
transfer makes progress on the link, and a replica's step ends. The driver always handles
the earliest; replicas with work sit in a heap keyed by when their current step ends, so an
event costs a heap operation, not a scan of the fleet. A step may fuse decode iterations up
to the next arrival or transfer, as a single replica's run does up to its next arrival.

When no replica's state can reach another's (a router that reads none, no KV hand-over, a
fixed arrival schedule), each replica is advanced only when a request is routed to it, up
to that request's arrival, and its steps fuse up to its own next arrival rather than the
fleet's: every replica then runs exactly as `simulate.run` would run it on its share of
the workload, in a fraction of the steps.

A request exists as objects only while in flight: a finished one leaves its numbers in the
run's FleetLog.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from llmemu.core.fleet import compiled
from llmemu.core.fleet.arrivals import ArrivalQueue
from llmemu.core.fleet.link import SharedLink
from llmemu.core.fleet.log import FleetLog
from llmemu.core.fleet.members import FleetReplica, FleetRequest
from llmemu.core.fleet.routers import Arrival, Router
from llmemu.core.fleet.workload import FleetWorkload
from llmemu.core.request import Request
from llmemu.core.simulate import _record, rejection

PROGRESS_EVERY = 4096
"""Arrivals between two progress reports when replicas advance independently."""


@dataclass
class FleetRun:
    replicas: list[FleetReplica]
    log: FleetLog
    rejected: list[tuple[int, str]]
    simulated_s: float
    router: str
    decisions: Counter[str] = field(default_factory=Counter)
    link: SharedLink | None = None
    link_name: str = ""


class FleetDriver:
    def __init__(
        self,
        replicas: list[FleetReplica],
        router: Router,
        router_name: str,
        *,
        decode_router: Router | None = None,
        link: SharedLink | None = None,
        link_name: str = "",
    ) -> None:
        self.replicas = replicas
        for i, r in enumerate(replicas):
            r.index = i
            # Only first tokens and finishes are read here: decoders stay aggregates.
            r.replica.engine.track_requests = False
        self.entry = [r for r in replicas if r.role != "decode"]
        self.decode = [r for r in replicas if r.role == "decode"]
        if self.decode and (link is None or decode_router is None):
            raise ValueError("decode replicas need a link and a decode router")
        self.router, self.router_name = router, router_name
        self.decode_router, self.link, self.link_name = decode_router, link, link_name
        self.steps: list[tuple[float, int, int]] = []
        self._seq = 0
        self.owner: dict[Request, FleetRequest] = {}
        self.decisions: Counter[str] = Counter()
        self.rejected: list[tuple[int, str]] = []
        self.log = FleetLog()

    def run(
        self,
        workload: FleetWorkload,
        progress: Callable[[int, int], None] | None = None,
        *,
        compiled_loop: bool = True,
    ) -> FleetRun:
        """Every request of `workload` through the fleet; `compiled_loop=False` keeps every
        replica on the Python engine (compiled.py says when the C loop may run them)."""
        arrivals = ArrivalQueue(workload)
        independent = (
            not self.decode and arrivals.fixed_only and not getattr(self.router, "reads_replicas", True)
        )  # fmt: skip
        if independent and compiled_loop and compiled.usable(self, workload):
            now = compiled.run(self, workload, progress)
        else:
            run = self._run_independent if independent else self._run_events
            now = run(arrivals, progress)
        if self.owner or len(self.log) + len(self.rejected) != arrivals.total:
            raise RuntimeError("fleet ended with unfinished requests: a driver invariant broke")
        end = max((r.free_at for r in self.replicas), default=now)
        return FleetRun(
            self.replicas, self.log, self.rejected, max(now, end), self.router_name,
            self.decisions, self.link, self.link_name,
        )  # fmt: skip

    def _run_events(self, arrivals: ArrivalQueue, progress) -> float:
        now = 0.0
        while True:
            ta = arrivals.next_time()
            tl = self.link.next_event_s() if self.link else math.inf
            ts = self.steps[0][0] if self.steps else math.inf
            if ta <= ts and ta <= tl and ta < math.inf:
                now = ta
                kind, item = arrivals.pop()
                if kind == "arrive":
                    fr = arrivals.request(item, now)
                    target = self._route(fr, self.entry, self.router)
                    if self._place(target, fr, now, arrivals):
                        self._wake(target, now)
                else:
                    self._hand_over(item, now)
            elif tl <= ts and tl < math.inf:
                now = tl
                for transfer in self.link.advance(tl):
                    self._deliver(transfer.payload, tl)
                    transfer.payload = None  # the request lives on in its decode replica
            elif ts < math.inf:
                now, _, index = heapq.heappop(self.steps)
                target = self.replicas[index]
                if self._run_step(target, now, min(ta, tl), arrivals):
                    self._push(target.free_at, target)
                else:
                    target.stepping = False
                if progress is not None:
                    progress(arrivals.completed, arrivals.total)
            else:
                return now

    def _run_independent(self, arrivals: ArrivalQueue, progress) -> float:
        """Each replica advanced only up to the arrival routed to it, then drained."""
        now = 0.0
        pool = self.entry
        while (now := arrivals.next_time()) < math.inf:
            _, index = arrivals.pop()
            fr = arrivals.request(index, now)
            target = self._route(fr, pool, self.router)
            self._advance(target, now, arrivals)
            self._place(target, fr, now, arrivals)
            if progress is not None and index % PROGRESS_EVERY == 0:
                progress(arrivals.completed, arrivals.total)
        for target in pool:
            self._advance(target, math.inf, arrivals)
        if progress is not None:
            progress(arrivals.completed, arrivals.total)
        return max((r.free_at for r in pool), default=0.0)

    def _advance(self, target: FleetReplica, until: float, arrivals: ArrivalQueue) -> None:
        """Steps of `target` until its clock reaches `until` (its next arrival) or it idles;
        its clock is then at least `until`, as `simulate.run`'s is when an arrival wakes it."""
        engine = target.engine
        while target.free_at < until and engine.has_work():
            if not self._run_step(target, target.free_at, until, arrivals):
                break
        if until < math.inf:
            target.free_at = max(target.free_at, until)

    # ---- events -------------------------------------------------------------------------
    def _route(self, fr: FleetRequest, pool: list[FleetReplica], router: Router) -> FleetReplica:
        target = pool[router.pick(self._view(fr, pool), pool)]
        self.decisions[target.name] += 1
        return target

    def _place(
        self, target: FleetReplica, fr: FleetRequest, now: float, arrivals: ArrivalQueue
    ) -> bool:
        """Hand an arriving request to its replica; False if it can never fit there."""
        capacity = target.engine.kv.capacity_tokens
        if fr.prompt_tokens + fr.output_tokens > capacity:
            self.rejected.append((fr.index, rejection(capacity)))
            arrivals.done(fr.index, now)
            return False
        out = 1 if target.role == "prefill" else fr.output_tokens
        engine = target.replica.engine
        req = engine.new_request(now, fr.prompt_tokens, out)
        if target.caches_prefixes:
            # The cached prefix is taken when the request arrives, not when the scheduler
            # admits it: its blocks stay pinned while it queues (vLLM looks up at admission).
            engine.kv.set_hashes(req, fr.hashes(target.block_size))
            engine.kv.admit(req)
        fr.prefill = fr.served = req
        fr.prefill_replica = target.index
        self.owner[req] = fr
        target.assigned += 1
        return True

    def _hand_over(self, fr: FleetRequest, now: float) -> None:
        """A prefill finished: its prompt's KV starts across the link."""
        fr.transfer = self.link.start(now, fr.kv_bytes, fr)

    def _deliver(self, fr: FleetRequest, now: float) -> None:
        """The KV arrived: a decode replica continues from the first token."""
        target = self._route(fr, self.decode, self.decode_router)
        first = fr.prefill
        req = target.replica.engine.new_request(fr.arrival_s, fr.prompt_tokens, fr.output_tokens)
        req.computed, req.generated = fr.prompt_tokens, 1
        req.first_scheduled_s = first.first_scheduled_s
        req.first_token_s = req.last_token_s = first.first_token_s
        fr.served, fr.prefill, fr.transfer = req, None, None
        self.owner[req] = fr
        target.assigned += 1
        self._wake(target, now)

    def _wake(self, target: FleetReplica, now: float) -> None:
        if not target.stepping:
            target.stepping = True
            self._push(max(target.free_at, now), target)

    def _run_step(
        self, target: FleetReplica, now: float, horizon: float, arrivals: ArrivalQueue
    ) -> bool:
        """One engine step of `target` from `now`; False if it had nothing to run. Its
        `free_at` is where its clock stands after."""
        if target.caches_prefixes:
            # Host-tier hits are copied back before the iteration that computes the rest.
            load_s = target.engine.kv.take_load_s()
            target.kv_load_s += load_s
            now += load_s
        engine = target.engine
        result = engine.step(now, horizon)
        if result is None:
            target.free_at = now
            return False
        end = target.free_at = now + result.duration_s
        _record(target.recorder, result)
        scheduled = result.scheduled
        target.load.add(now, end, scheduled.num_decode + len(scheduled.chunks), engine.kv.usage)
        for req in result.finished:
            fr = self.owner.pop(req)
            if target.role == "prefill" and fr.output_tokens > 1:
                fr.kv_bytes = fr.prompt_tokens * target.replica.memory.kv_bytes_per_token
                arrivals.hand_over(fr, end)
            else:
                self.log.add_served(fr.index, req, fr.prefill_replica, target.index)
                arrivals.done(fr.index, end)
        return True

    # ---- helpers ------------------------------------------------------------------------
    def _push(self, t: float, target: FleetReplica) -> None:
        self._seq += 1
        heapq.heappush(self.steps, (t, self._seq, target.index))

    @staticmethod
    def _view(fr: FleetRequest, pool: list[FleetReplica]) -> Arrival:
        hashes = fr.hashes(pool[0].block_size) if fr.segments is not None else ()
        return Arrival(fr.prompt_tokens, fr.output_tokens, hashes, fr.session)
