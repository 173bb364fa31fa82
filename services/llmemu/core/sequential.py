"""`sequential` batching: the non-overlapped engine, one operation after another on the
whole device (NanoFlow's "non-overlap" baseline). On a one-processor system it times an
iteration like `continuous`; on systems with several processors nothing overlaps either.

`policy.options.network_share` (default 1: the whole device) is the share R of the
device's units its collective kernels are launched on; they then run at NanoFlow Table 3's
network P(R) of their best speed. NanoFlow's own non-overlap baseline launches every
all-gather and all-reduce on 64 thread blocks of the A100's 108 SMs (efeslab/Nanoflow
pipeline/src/pipeline_nonoverlap.cu, `kNetNblocks = 64`), i.e. R = 64 / 108; its GEMV
(decode attention) and prefill kernels use all 108 (`gemv_num_blocks` 108), so only the
collectives are affected.
"""

from __future__ import annotations

from dataclasses import replace

from llmemu.core.errors import ConfigError
from llmemu.core.nanoflow.overlap import Resource, performance
from llmemu.core.ops import OpKind
from llmemu.core.pricing import PlanPricer
from llmemu.core.routing import PricedBlock, PricedPlan
from llmemu.core.timeline import serial

NANOFLOW_NONOVERLAP_NETWORK_SHARE = 64 / 108
"""kNetNblocks 64 of the A100's 108 SMs (pipeline_nonoverlap.cu)."""


def sequential(parts) -> PlanPricer:
    share = network_share(parts.policy.options)
    router = parts.router if share == 1.0 else _slow_collectives(parts.router, share)
    return PlanPricer(parts.model, parts.pricer, router, serial, parts.experts)


def network_share(options) -> float:
    value = (options or {}).get("network_share", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(
            f"policy.options.network_share: {value!r} must be a share in (0, 1] of the "
            "device's units (NanoFlow's non-overlap baseline: 64/108 = 0.593)"
        )
    return float(value)


def _slow_collectives(router, share: float):
    """The router, with every collective lasting 1 / P_network(share) times longer."""
    slowdown = 1.0 / performance(Resource.NETWORK, share)

    def route(plan, pricer) -> PricedPlan:
        priced = router(plan, pricer)
        blocks = tuple(
            PricedBlock(
                tuple(
                    tuple(
                        replace(p, time_s=p.time_s * slowdown)
                        if p.op.kind is OpKind.COLLECTIVE
                        else p
                        for p in stage
                    )
                    for stage in block.stages
                ),
                block.repeat,
            )
            for block in priced.blocks
        )
        return PricedPlan(blocks, priced.tokens)

    return route
