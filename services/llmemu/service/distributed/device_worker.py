"""The device-worker service: one processor of one device (an xPU, a Logic-PIM, an edge
node) that owns its cost model and memory state and exports its own metrics.

The scheduler calls POST /v1/execute once per iteration with every op placed on this
processor; the worker prices them with `llmemu.core.cost.Pricer` for its processor (the
same cost model as the embedded default) and answers their times. A request it cannot
price (an unknown kind, numbers out of range or not finite, another processor's ops) is a
400 in the OpenAI error envelope, before any counter moves.
"""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from llmemu.core.batching import check_settings
from llmemu.core.collectives import get_allreduce
from llmemu.core.cost import Pricer
from llmemu.core.errors import ConfigError
from llmemu.core.host import load_engine
from llmemu.core.ops import Op, OpKind
from llmemu.core.specs.model import weight_bytes
from llmemu.protocol.device import ExecuteRequest, ExecuteResponse, WorkerInfo
from llmemu.service.api.errors import ApiError, install_error_handlers
from llmemu.service.distributed.scenario import load_scenario_from
from llmemu.service.distributed.settings import WorkerSettings
from llmemu.service.metrics.device import WorkerMetrics
from llmemu.service.metrics.registry_view import RegistryView, process_registry


def create_worker_app(
    settings: WorkerSettings, *, registry: CollectorRegistry | None = None
) -> FastAPI:
    loaded = load_scenario_from(settings)
    system, model, policy = loaded.system, loaded.model, loaded.spec.policy
    check_settings(policy)  # the window read below applies only under batching: edge
    names = [p.name for p in system.processors]
    if settings.processor not in names:
        raise ConfigError(
            f"processor={settings.processor!r} is not in system {system.name!r}; "
            f"choose one of: {', '.join(names)}"
        )
    if settings.node >= system.tensor_parallel:
        raise ConfigError(
            f"node={settings.node} but system {system.name!r} has {system.tensor_parallel} "
            f"devices; choose 0..{system.tensor_parallel - 1}"
        )
    proc = next(p for p in system.processors if p.name == settings.processor)
    pricer = Pricer(
        system,
        model.dtype_bytes,
        allreduce=get_allreduce(policy.allreduce),
        sustained=load_engine(policy.engine).sustained_clocks,  # as the scheduler's replica
    )
    name = settings.name or f"{proc.name}-{settings.node}"
    registry = registry or process_registry()
    metrics = WorkerMetrics(registry, model.name, name)
    tp = system.tensor_parallel
    window = policy.memory_window or 0
    layer_weights = weight_bytes(model) / tp
    if not proc.owns_memory:
        layer_weights = 0.0
    elif window:
        # Two blocks (attention, FFN) per layer stream through a window of `window` blocks.
        layer_weights = layer_weights * min(1.0, window / (2 * model.num_layers))
    metrics.set_memory("weights", layer_weights)
    metrics.set_memory("capacity", proc.device.memory_capacity_bytes)
    metrics.window.set(window)
    disk_bytes_per_s = proc.device.disk_bytes_per_s
    exposed = RegistryView(registry, lambda n: not n.startswith(("llmemu_iteration_seconds", "llmemu_pacing_")))  # fmt: skip
    app = FastAPI(title=f"llmemu device worker {name}")
    app.state.registry = registry
    install_error_handlers(app)

    @app.post("/v1/execute")
    async def execute(body: ExecuteRequest) -> ExecuteResponse:
        if body.processor != proc.name:
            raise ApiError(400, f"processor {body.processor!r} is not this worker's; it emulates {proc.name!r}", param="processor")  # fmt: skip
        calls = [(_op(w), w.layers) for w in body.ops]
        times = [pricer.time(op, proc.name) for op, _ in calls]
        bad = next((op.name for (op, n), t in zip(calls, times, strict=True) if not math.isfinite(t * n)), None)  # fmt: skip
        if bad is not None:
            raise ApiError(400, f"op {bad!r} prices to a time that is not finite; send smaller numbers", param="ops")  # fmt: skip
        cost = metrics.on_execute(proc.name, calls, times, policy.allreduce)
        net = sum(op.net_bytes * layers for op, layers in calls) / tp
        metrics.link_bytes.labels(model_name=model.name, engine="0", link=f"node{settings.node}").inc(net)  # fmt: skip
        if window and disk_bytes_per_s:
            metrics.disk_stall.inc(_disk_stall_s(calls, times, tp, disk_bytes_per_s))
        metrics.set_memory("kv", body.kv_bytes / tp if proc.owns_memory else 0.0)
        return ExecuteResponse(times_s=times, busy_s=sum(w.busy_s for w in cost.work.values()))

    @app.get("/info")
    async def info() -> WorkerInfo:
        return WorkerInfo(name=name, processor=proc.name, node=settings.node, system=system.name, device=proc.device.name)  # fmt: skip

    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)

    @app.api_route("/metrics", methods=["GET", "HEAD"])
    async def metrics_(request: Request) -> Response:
        body = b"" if request.method == "HEAD" else generate_latest(exposed)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app


def _op(w) -> Op:
    # By keyword: Op grows optional fields, and a positional call would shift them silently.
    return Op(
        name=w.name, kind=OpKind(w.kind), flops=w.flops, bytes=w.bytes, net_bytes=w.net_bytes,
        tokens=w.tokens, payload_bytes=w.payload_bytes, expert_tokens=tuple(w.expert_tokens),
        weight_bytes=w.weight_bytes, context_tokens=w.context_tokens,
    )  # fmt: skip


def _disk_stall_s(calls, times, tp: int, disk_bytes_per_s: float) -> float:
    """Sliding window: each layer's weights stream from disk while the previous layer
    computes and communicates; the layer waits for whatever loading is slower by."""
    layers = max(layers for _, layers in calls)
    per_layer = [(op, t) for (op, n), t in zip(calls, times, strict=True) if n == layers]
    load_s = sum(op.weight_bytes for op, _ in per_layer) / tp / disk_bytes_per_s
    busy_s = sum(t for _, t in per_layer)
    return max(0.0, load_s - busy_s) * layers
