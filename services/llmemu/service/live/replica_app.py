"""`llmemu serve cluster.yaml --replica-ports P`: each replica of a live fleet also on a
port of its own (P, P+1, ...), with its own /v1 routes and /metrics, as a vLLM server per
replica would be, so that an external router (llm-d, KServe, Envoy AI Gateway, nginx) can
be put in front. A request there skips the fleet's router and goes to that replica's engine
loop; the fleet's endpoint keeps serving and routing at the same time."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator

from llmemu.protocol.internal import SchedulerLoad, SubmitSequence
from llmemu.service.live.fleet import FleetTransport, LiveReplica
from llmemu.service.live.transport import Subscriber


class PinnedTransport:
    """A GatewayTransport to one replica of a fleet: its subscriptions are the fleet's (the
    replica's events reach them there), its submissions go to the replica's inbox."""

    def __init__(self, fleet: FleetTransport, member: LiveReplica) -> None:
        self.fleet = fleet
        self.member = member

    def subscribe(self, reply_to: str, subscriber: Subscriber | None = None) -> Subscriber:
        return self.fleet.subscribe(reply_to, subscriber)

    def unsubscribe(self, reply_to: str) -> None:
        self.fleet.unsubscribe(reply_to)

    def submit(self, seqs: list[SubmitSequence]) -> None:
        self.fleet.submit_to(self.member, seqs)

    def abort(self, seq_ids: list[str]) -> None:
        self.fleet.abort(seq_ids)

    def load(self) -> SchedulerLoad:
        return SchedulerLoad(self.member.num_waiting, self.member.num_running)


def replica_apps(fleet_app: FastAPI) -> list[tuple[str, FastAPI]]:
    """One app per replica of the fleet `fleet_app` serves (none if it serves one replica).
    They have no lifespan: the fleet app's starts and stops every engine loop."""
    from llmemu.service.api.app import _admin_routes, _version
    from llmemu.service.api.direct import ServingApp
    from llmemu.service.api.errors import install_error_handlers
    from llmemu.service.api.gateway import Gateway
    from llmemu.service.api.middleware import ArrivalStamp, GuardMiddleware
    from llmemu.service.api.openai_routes import openai_routes
    from llmemu.service.metrics.serving import HTTP_EXCLUDED

    state = fleet_app.state
    transport, scheduler = state.gateway.transport, state.scheduler
    if not isinstance(transport, FleetTransport):
        return []
    settings, sampler, offload, gate = state.serving
    emu, tok, clock = state.emulation, state.tokenizer, state.clock
    ensure_started = state.gateway.ensure_started
    apps = []
    for member, (name, metrics) in zip(transport.members, scheduler.replica_metrics, strict=True):  # fmt: skip
        pinned = PinnedTransport(transport, member)
        gateway = Gateway.serving(emu, pinned, tok, clock, metrics, settings, ensure_started, offload, state.gateway.turns)  # fmt: skip
        app = ServingApp(title=f"llmemu {name}", version=_version())
        app.state.gateway, app.state.metrics = gateway, metrics
        install_error_handlers(app)
        app.add_middleware(GuardMiddleware, api_keys=settings.api_keys, max_body_bytes=settings.max_body_bytes, max_body_items=settings.max_body_items)  # fmt: skip
        excluded = [f"^{p}/?$" for p in HTTP_EXCLUDED]
        Instrumentator(excluded_handlers=excluded, registry=metrics.registry).instrument(app)
        app.add_middleware(ArrivalStamp, now=clock.now, gate=gate)
        openai_routes(app, settings, emu, gateway, tok, sampler, clock, offload)
        _admin_routes(app, emu, scheduler, gateway, tok, metrics.registry)
        apps.append((name, app))
    return apps
