"""One representative iteration of a run, priced op by op, for rooflines and lane charts.

The representative iteration is the run's mean iteration: as many decoding requests as the
run decoded tokens per iteration, each attending to the mean context of a decode token, and
one prefill chunk of the prompt tokens per iteration. It is priced by a copy of the
replica's own pricer (same batching, routing and timeline) that keeps the plan, without
sampling expert routing, so the run's random streams are untouched.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from llmemu.cli.explain import op_rows
from llmemu.core.ops import BatchShape
from llmemu.core.pricing import PlanPricer
from llmemu.core.replica import Replica
from llmemu.core.routing.placed import PricedPlan
from llmemu.core.simulate import SimulationRun
from llmemu.core.timeline import serial


def mean_batch(run: SimulationRun) -> BatchShape | None:
    """The mean iteration's batch; None when the run did no iteration."""
    iterations = run.recorder.iterations
    if not len(run.log) or not iterations:
        return None
    generated = run.log.column("generated")
    prompts = run.log.column("prompt_tokens")
    # Decode token j (j = 1 .. generated-1) attends to prompt + j tokens. Each request's
    # term is a whole number; cumsum adds them one after the other in float64, as a Python
    # sum of floats does, so a sum past 2**53 rounds the same way too.
    decode_tokens = int((generated - 1).sum())
    terms = (generated - 1) * prompts + generated * (generated - 1) / 2
    context_sum = float(np.cumsum(terms)[-1])
    num_decode = round(decode_tokens / iterations)
    context = context_sum / decode_tokens if decode_tokens else 0.0
    prefill = round(int(prompts.sum()) / iterations)
    return BatchShape(
        prefill_chunks=((prefill, 0),) if prefill else (),
        num_decode=num_decode,
        decode_context=round(num_decode * context),
        num_logits=num_decode + (1 if prefill else 0),
    )


def lanes(plan: PricedPlan, serial_timeline: bool) -> list[dict[str, Any]]:
    """Start and duration of each op in ONE layer of each block. Ops of a stage start
    together on different processors and queue on the same one (the `stages` timeline);
    with the `serial` timeline every op waits for the previous one."""
    bars: list[dict[str, Any]] = []
    t = 0.0
    for index, block in enumerate(plan.blocks):
        for stage in block.stages:
            free: dict[str, float] = {}
            for placed in stage:
                start = t if not serial_timeline else max([t, *free.values()])
                start = max(start, free.get(placed.processor, t))
                free[placed.processor] = start + placed.time_s
                bars.append(
                    {
                        "block": index,
                        "repeat": block.repeat,
                        "op": placed.op.name,
                        "device": placed.processor,
                        "start_s": start,
                        "duration_s": placed.time_s,
                    }
                )
            t = max([t, *free.values()])
    return bars


def nano_lanes(pricer: PlanPricer, batch: BatchShape) -> list[dict[str, Any]] | None:
    """NanoFlow's own schedule of the first layers (nano-ops on each processor's compute,
    memory and network lanes, overlapping), or None for other batching policies. Only
    NanoFlowPricer has `timing`; asking for it, not for the class, leaves the nanoflow
    modules unimported by the scenarios that do not use them."""
    timing = getattr(pricer, "timing", None)
    if timing is None:
        return None
    return [
        {
            "op": bar.op.name,
            "device": f"{bar.op.processor} {bar.op.resource}",
            "layer": bar.op.layer,
            "piece": bar.op.piece,
            "share": bar.op.share,
            "start_s": bar.start_s,
            "duration_s": bar.end_s - bar.start_s,
        }
        for bar in timing(batch).bars
    ]


def processors(replica: Replica) -> dict[str, dict[str, Any]]:
    """Peak and effective rates of each processor, per device, for the roofline."""
    pricer = replica.engine.pricer.pricer
    out = {}
    for proc in replica.system.processors:
        rates = pricer.rates[proc.name]
        out[proc.name] = {
            "count": replica.system.tensor_parallel,
            "kind": proc.device.kind,
            "peak_flops": proc.device.flops_for(replica.model.dtype_bytes),
            "peak_bytes_per_s": proc.device.compute_bytes_per_s,
            "effective_flops": rates.flops,
            "effective_bytes_per_s": rates.bytes_per_s,
        }
    return out


def _lanes(pricer: PlanPricer, batch: BatchShape, plan: PricedPlan) -> dict[str, Any]:
    nano = nano_lanes(pricer, batch)
    if nano is not None:
        return {"timeline": "nanoflow", "lanes": nano}
    serial_timeline = pricer.timeline is serial
    return {
        "timeline": "serial" if serial_timeline else "stages",
        "lanes": lanes(plan, serial_timeline),
    }


def representative_iteration(run: SimulationRun) -> dict[str, Any] | None:
    batch = mean_batch(run)
    if batch is None:
        return None
    pricer = copy.copy(run.replica.engine.pricer)
    pricer.keep_plan = True
    cost = pricer.price(batch)
    return {
        "batch": {
            "prefill_tokens": sum(c for c, _ in batch.prefill_chunks),
            "num_decode": batch.num_decode,
            "decode_context": batch.decode_context,
        },
        "iteration_s": cost.duration_s,
        "ops": op_rows(cost.plan),
        **_lanes(pricer, batch, cost.plan),
        "processors": processors(run.replica),
    }
