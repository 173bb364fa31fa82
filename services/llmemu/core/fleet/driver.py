"""Run a fleet on one virtual clock.

Three kinds of event drive it: a request arrives (routed at its arrival time), a KV
transfer makes progress on the link, and a replica's step ends. The driver always handles
the earliest; replicas with work sit in a heap keyed by when their current step ends, so an
event costs a heap operation, not a scan of the fleet. A step may fuse decode iterations up
to the next arrival or transfer, as a single replica's run does up to its next arrival.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from llmemu.core.fleet.arrivals import ArrivalQueue
from llmemu.core.fleet.link import SharedLink
from llmemu.core.fleet.members import FleetReplica, FleetRequest
from llmemu.core.fleet.routers import Arrival, Router
from llmemu.core.fleet.workload import FleetWorkload
from llmemu.core.request import Request
from llmemu.core.simulate import _record


@dataclass
class FleetRun:
    replicas: list[FleetReplica]
    requests: list[FleetRequest]
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

    def run(
        self, workload: FleetWorkload, progress: Callable[[int, int], None] | None = None
    ) -> FleetRun:
        arrivals = ArrivalQueue(workload)
        records: list[FleetRequest] = []
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
                    records.append(fr)
                    self._arrive(fr, now, arrivals)
                else:
                    self._hand_over(item, now)
            elif tl <= ts and tl < math.inf:
                now = tl
                for transfer in self.link.advance(tl):
                    self._deliver(transfer.payload, tl)
            elif ts < math.inf:
                now = ts
                self._step(min(ta, tl), arrivals)
                if progress is not None:
                    progress(arrivals.completed, arrivals.total)
            else:
                break
        unfinished = [fr.index for fr in records if fr.served is None or not fr.served.done]
        rejected = {i for i, _ in self.rejected}
        if any(i not in rejected for i in unfinished):
            raise RuntimeError("fleet ended with unfinished requests: a driver invariant broke")
        end = max((r.free_at for r in self.replicas), default=now)
        return FleetRun(
            self.replicas, records, self.rejected, max(now, end), self.router_name,
            self.decisions, self.link, self.link_name,
        )  # fmt: skip

    # ---- events -------------------------------------------------------------------------
    def _arrive(self, fr: FleetRequest, now: float, arrivals: ArrivalQueue) -> None:
        pool = self.entry
        i = self.router.pick(self._view(fr, pool), pool)
        target = pool[i]
        self.decisions[target.name] += 1
        memory = target.replica.memory
        if fr.prompt_tokens + fr.output_tokens > memory.kv_tokens:
            self.rejected.append(
                (
                    fr.index,
                    f"prompt + output longer than the KV cache holds ({int(memory.kv_tokens)} "
                    "tokens)"
                    if memory.kv_tokens >= 1
                    else "no room for a KV cache (the weights fill the memory: OOM)",
                )
            )
            arrivals.done(fr.index, now)
            return
        out = 1 if target.role == "prefill" else fr.output_tokens
        engine = target.replica.engine
        req = engine.new_request(now, fr.prompt_tokens, out)
        if target.caches_prefixes:
            # The cached prefix is taken when the request arrives, not when the scheduler
            # admits it: its blocks stay pinned while it queues (vLLM looks up at admission).
            engine.kv.set_hashes(req, fr.hashes(target.block_size))
            engine.kv.admit(req)
        fr.prefill = fr.served = req
        self._admit(target, req, fr, now)

    def _hand_over(self, fr: FleetRequest, now: float) -> None:
        """A prefill finished: its prompt's KV starts across the link."""
        fr.transfer = self.link.start(now, fr.kv_bytes, fr)

    def _deliver(self, fr: FleetRequest, now: float) -> None:
        """The KV arrived: a decode replica continues from the first token."""
        pool = self.decode
        target = pool[self.decode_router.pick(self._view(fr, pool), pool)]
        self.decisions[target.name] += 1
        first = fr.prefill
        req = target.replica.engine.new_request(fr.arrival_s, fr.prompt_tokens, fr.output_tokens)
        req.computed, req.generated = fr.prompt_tokens, 1
        req.first_scheduled_s = first.first_scheduled_s
        req.first_token_s = req.last_token_s = first.first_token_s
        fr.served = req
        self._admit(target, req, fr, now)

    def _admit(self, target: FleetReplica, req: Request, fr: FleetRequest, now: float) -> None:
        self.owner[req] = fr
        target.requests.append(req)
        if not target.stepping:
            target.stepping = True
            self._push(max(target.free_at, now), target)

    def _step(self, horizon: float, arrivals: ArrivalQueue) -> None:
        now, _, index = heapq.heappop(self.steps)
        target = self.replicas[index]
        if target.caches_prefixes:
            # Host-tier hits are copied back before the iteration that computes the rest.
            load_s = target.replica.engine.kv.take_load_s()
            target.kv_load_s += load_s
            now += load_s
        result = target.replica.engine.step(now, horizon)
        if result is None:
            target.stepping = False
            target.free_at = now
            return
        end = now + result.duration_s
        target.free_at = end
        _record(target.recorder, result)
        d = result.duration_s
        kv = target.replica.engine.kv
        batch = result.scheduled.num_decode + len(result.scheduled.chunks)
        target.load.add(now, end, {"batch": batch * d, "kv": kv.usage * d})
        for req in result.finished:
            fr = self.owner.pop(req)
            if target.role == "prefill" and fr.output_tokens > 1:
                fr.kv_bytes = fr.prompt_tokens * target.replica.memory.kv_bytes_per_token
                arrivals.hand_over(fr, end)
            else:
                arrivals.done(fr.index, end)
        self._push(end, target)

    # ---- helpers ------------------------------------------------------------------------
    def _push(self, t: float, target: FleetReplica) -> None:
        self._seq += 1
        heapq.heappush(self.steps, (t, self._seq, target.index))

    @staticmethod
    def _view(fr: FleetRequest, pool: list[FleetReplica]) -> Arrival:
        return Arrival(
            fr.prompt_tokens, fr.output_tokens, fr.hashes(pool[0].block_size), fr.session
        )
