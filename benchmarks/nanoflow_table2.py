"""NanoFlow Table 2 as a calibration target: LLaMA-2-70B on 8 x A100, one 2048-token batch.

The batch is `llmemu explain --model llama-2-70b --system a100x8-nvlink --decode-requests 1024
--context 1365 --prefill-tokens 1024`: 1024 decodes attending to 1365 tokens each plus one
1024-token prompt. "Real" is NanoFlow's measured time of each operation over the whole model
(papers.md section 2.4). Two a100 efficiencies come from it, solved through the emulator's own
pricing (so the link latency and kernel overhead that the emulator adds are accounted for):
decode attention -> `memory`, the all-reduces -> `network`.
"""

from __future__ import annotations

from llmemu.core.catalog import load_system
from llmemu.core.cost import Pricer
from llmemu.core.ops import BatchShape
from llmemu.core.planner import plan_iteration
from llmemu.core.specs.device import DeviceSpec
from llmemu.core.specs.loading import load_model

REAL_MS = {
    "qkv": 16.08,
    "o_proj": 16.01,
    "gate_up": 69.92,
    "down": 34.96,
    "attn_decode": 35.60,
    "allreduce": 47.92,
}
BATCH = BatchShape(
    prefill_chunks=((1024, 0),),
    num_decode=1024,
    decode_context=1024 * 1365,
    num_logits=1025,
)


def op_times_ms(device: DeviceSpec) -> dict[str, float]:
    """Whole-model ms of each op of the Table 2 batch on a100x8-nvlink built from `device`."""
    system = load_system("a100x8-nvlink")
    processors = tuple(p.model_copy(update={"device": device}) for p in system.processors)
    system = system.model_copy(update={"processors": processors})
    model = load_model("llama-2-70b")
    pricer = Pricer(system, model.dtype_bytes)
    name = system.primary.name
    totals: dict[str, float] = {}
    for block in plan_iteration(model, BATCH, system.tensor_parallel).blocks:
        for op in block.ops():
            totals[op.name] = totals.get(op.name, 0.0) + pricer.time(op, name) * block.repeat * 1e3
    return totals


def solve_efficiency(device: DeviceSpec, field: str, op: str) -> float:
    """The `efficiency.<field>` at which `op`'s emulated time equals Table 2's Real column.

    Time falls as the efficiency rises, so bisection on (0, 1] finds it."""
    lo, hi = 1e-3, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        eff = device.efficiency.model_copy(update={field: mid})
        ms = op_times_ms(device.model_copy(update={"efficiency": eff}))[op]
        lo, hi = (mid, hi) if ms > REAL_MS[op] else (lo, mid)
    return 0.5 * (lo + hi)
