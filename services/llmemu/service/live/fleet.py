"""Serve a fleet behind one endpoint: one scheduler service per replica, each with its own
engine and inbox, and a gateway transport that routes every submitted sequence through the
router registry the offline fleet uses (core/fleet/routers.py). Token events from any
replica reach the gateway's subscriptions as they would from a single replica."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from llmemu.core.fleet.prompts import token_block_hashes
from llmemu.core.fleet.routers import Arrival, Router
from llmemu.core.replica import Replica
from llmemu.protocol.internal import AbortSequence, SchedulerLoad, SubmitSequence, TokenEvent
from llmemu.service.live.transport import Command, CommandInbox, InMemoryTransport, Release


class ReplicaInbox(CommandInbox):
    """The scheduler side of one replica: its own commands, events out through the fleet."""

    def __init__(
        self,
        publish: Callable[[str, list[TokenEvent]], None],
        stage: Callable[[dict[str, list[TokenEvent]]], Release],
    ) -> None:
        super().__init__()
        self._publish = publish
        self._stage = stage
        self.engine_load: Callable[[], SchedulerLoad] = lambda: SchedulerLoad(0, 0)

    def put(self, cmd: Command) -> None:
        self._commands.append(cmd)
        self._wakeup.set()

    def publish(self, reply_to: str, events: list[TokenEvent]) -> None:
        self._publish(reply_to, events)

    def stage(self, batches: dict[str, list[TokenEvent]]) -> Release:
        return self._stage(batches)

    def report_load(self, load: Callable[[], SchedulerLoad]) -> None:
        self.engine_load = load


@dataclass(eq=False)
class LiveReplica:
    """A replica as the routers see it (core/fleet/routers.py ReplicaView)."""

    name: str
    replica: Replica
    inbox: ReplicaInbox
    num_assigned: int = 0
    seq_ids: set[str] = field(default_factory=set)

    @property
    def num_waiting(self) -> int:
        queued = sum(isinstance(c, SubmitSequence) for c in self.inbox._commands)
        return self.inbox.engine_load().num_waiting + queued

    @property
    def num_running(self) -> int:
        return self.inbox.engine_load().num_running

    @property
    def kv_usage(self) -> float:
        return self.replica.engine.kv.usage

    def cached_blocks(self, hashes: tuple[int, ...]) -> int:
        return self.replica.engine.kv.cached_prefix_blocks(hashes)


class FleetTransport(InMemoryTransport):
    """The gateway side: subscriptions as InMemoryTransport keeps them; submissions and
    aborts go to the inbox of the replica the router picked."""

    def __init__(self, replicas: list[tuple[str, Replica]], router: Router) -> None:
        super().__init__()
        self.members = [
            LiveReplica(n, r, ReplicaInbox(self._deliver, self._stage_all)) for n, r in replicas
        ]
        self.router = router
        self.decisions: Counter[str] = Counter()
        self._where: dict[str, LiveReplica] = {}

    def submit(self, seqs: list[SubmitSequence]) -> None:
        block_size = self.members[0].replica.engine.kv.block_size
        for seq in seqs:
            hashes = token_block_hashes(seq.prompt_token_ids, block_size)
            arrival = Arrival(seq.prompt_tokens, seq.output_tokens, hashes)
            member = self.members[self.router.pick(arrival, self.members)]
            self.decisions[member.name] += 1
            self.submit_to(member, [seq])

    def submit_to(self, member: LiveReplica, seqs: list[SubmitSequence]) -> None:
        """Sequences for one replica, the router's pick or its own port's (replica_app.py)."""
        for seq in seqs:
            member.num_assigned += 1
            self._where[seq.seq_id] = member
            member.inbox.put(seq)

    def abort(self, seq_ids: list[str]) -> None:
        for seq_id in seq_ids:
            member = self._where.pop(seq_id, None)
            if member is not None:
                member.inbox.put(AbortSequence(seq_id))

    def load(self) -> SchedulerLoad:
        return SchedulerLoad(
            sum(m.num_waiting for m in self.members), sum(m.num_running for m in self.members)
        )

    def _deliver(self, reply_to: str, events: list[TokenEvent]) -> None:
        self._finished(events)
        self.publish(reply_to, events)

    def _stage_all(self, batches: dict[str, list[TokenEvent]]) -> Release:
        for events in batches.values():
            self._finished(events)
        return self.stage(batches)

    def _finished(self, events: list[TokenEvent]) -> None:
        """A finished sequence has nothing left to abort."""
        for ev in events:
            if ev.finish_reason is not None:
                self._where.pop(ev.seq_id, None)


class FleetScheduler:
    """Every replica's scheduler service, started and stopped together, and each one's
    own engine metrics (service/live/fleet_metrics.py)."""

    def __init__(self, services: list, replica_metrics: list | None = None) -> None:
        self.services = services
        self.replica_metrics: list = replica_metrics or []
        """(replica name, its ServingMetrics), in the fleet's order."""

    def exposition(self, registry):
        """The fleet's /metrics: the gateway's series, each replica's engine series."""
        from llmemu.service.live.fleet_metrics import FleetExposition

        return FleetExposition(registry, [(n, m.registry) for n, m in self.replica_metrics])

    @property
    def dead(self) -> str | None:
        return next((s.dead for s in self.services if s.dead), None)

    def room_s(self) -> float:
        """Wall seconds until the first replica's staged burst begins."""
        return min(s.room_s() for s in self.services)

    def after_burst(self, callback) -> None:
        """`callback` once the burst due first is out."""
        min(self.services, key=lambda s: s.room_s()).after_burst(callback)

    def start(self) -> None:
        for s in self.services:
            s.start()

    async def stop(self) -> None:
        for s in self.services:
            await s.stop()


def new_transport(emu) -> InMemoryTransport:
    """The in-memory transport, or for a cluster scenario one routing to each replica."""
    if not emu.fleet:
        return InMemoryTransport()
    from llmemu.core.fleet.routers import make_router

    cluster = emu.loaded.spec.cluster
    return FleetTransport(emu.fleet, make_router(cluster.router, cluster.router_options))


def new_scheduler(emu, clock, transport, observer):
    """One scheduler service, or one per replica behind a FleetTransport."""
    from llmemu.service.live.engine_loop import SchedulerService

    if not emu.fleet:
        return SchedulerService(emu.replica, clock, transport, observer)
    if not isinstance(transport, FleetTransport):
        raise TypeError("a fleet is served through the FleetTransport new_transport builds")
    from llmemu.service.live.fleet_metrics import TeeObserver, replica_metrics

    services, own = [], []
    for m in transport.members:
        metrics = replica_metrics(m, observer, emu.served_model_name, emu.max_model_len, emu.cache_config)  # fmt: skip
        own.append((m.name, metrics))
        services.append(SchedulerService(m.replica, clock, m.inbox, TeeObserver(observer, metrics)))
    return FleetScheduler(services, own)
