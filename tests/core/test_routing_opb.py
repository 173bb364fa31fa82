"""Op/B routing (Duplex §IV) against the crossover computed by hand, and what explain shows."""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.cost import Pricer
from llmemu.core.ops import Block, Op, OpKind, Plan
from llmemu.core.routing import get_router
from llmemu.core.timeline import stages

BYTES = 1.0e9


def gemm_at(op_per_byte: float, name: str = "gemm") -> Op:
    """A GEMM of a given Op/B, with many rows so the xPU's small-batch penalty is negligible."""
    return Op(name, OpKind.GEMM, flops=op_per_byte * BYTES, bytes=BYTES, tokens=4096)


def route_one(op: Op, *, ideal: bool, routing: str = "opb"):
    pricer = Pricer(load_system("duplex"), 2, ideal=ideal)
    priced = get_router(routing)(Plan((Block(((op,),), 1),)), pricer)
    return priced.blocks[0].stages[0][0]


@pytest.mark.parametrize(("op_per_byte", "processor"), [(31, "logic-pim"), (33, "h100")])
def test_crossover_at_peak_rates_is_32(op_per_byte, processor):
    """Duplex's rule at peak rates: Logic-PIM (107.26 TFLOP/s, 13.41 TB/s) against the H100
    (989.4 TFLOP/s, 3.352 TB/s). Between Op/B 8 and 295 the PIM is compute-bound and the xPU
    memory-bound, so the PIM wins iff Op/B * B / 107.26e12 < B / 3.352e12, i.e. Op/B < 32."""
    assert route_one(gemm_at(op_per_byte), ideal=True).processor == processor


def test_crossover_with_efficiencies_moves_by_their_ratio():
    """With efficiencies the xPU streams at e_mem(xPU) * 3.352 TB/s while the Logic-PIM
    computes at e_comp(PIM) * 107.26 TFLOP/s, so the crossover moves to
    32 * e_comp(PIM) / e_mem(xPU) (both pay the same per-op overhead, which cancels): with the
    presets' 1.0 and 0.914, 35.0. One Op/B below it goes to the PIM, one above to the xPU.
    (The xPU stays memory-bound there: at 4096 rows its compute is a tenth of its memory time.)"""
    system = load_system("duplex")
    xpu, pim = (p.device for p in system.processors)
    crossover = 32 * pim.efficiency.compute / xpu.efficiency.memory
    assert 30 < crossover < 45
    assert route_one(gemm_at(crossover - 1), ideal=False).processor == "logic-pim"
    assert route_one(gemm_at(crossover + 1), ideal=False).processor == "h100"


def test_logic_pim_carries_the_h100s_memory_efficiency_and_overhead():
    """logic-pim reads the same HBM3 and is launched by the same runtime as the h100: when the
    h100 preset is recalibrated, logic-pim (and bank-pim) must follow."""
    system = load_system("duplex")
    xpu, pim = (p.device for p in system.processors)
    assert pim.efficiency.memory == xpu.efficiency.memory
    assert pim.op_overhead_s == xpu.op_overhead_s
    bank = load_system("bank-pim").processors[1].device
    assert (bank.efficiency.memory, bank.op_overhead_s) == (
        xpu.efficiency.memory,
        xpu.op_overhead_s,
    )


def test_opb_runs_the_two_processors_in_turn_and_coprocess_overlaps_them():
    """A stage with a high-Op/B op (xPU) and a low-Op/B op (PIM): without co-processing the
    iteration is the sum of the two times, with co-processing the longer of them."""
    high, low = gemm_at(1000, "attn_prefill"), gemm_at(2, "attn_decode")
    pricer = Pricer(load_system("duplex"), 2, ideal=True)
    plan = Plan((Block(((high, low),), 1),))
    t_high = pricer.time(high, "h100")  # 1000e9 FLOP / 989.4e12 = 1.011 ms
    t_low = pricer.time(low, "logic-pim")  # 1e9 B / 13.41e12 = 74.6 us
    assert t_high == pytest.approx(1000e9 / 989.4e12)
    assert t_low == pytest.approx(1e9 / 13.408e12)
    serial = stages(get_router("opb")(plan, pricer))
    overlapped = stages(get_router("opb-coprocess")(plan, pricer))
    assert serial == pytest.approx(t_high + t_low)
    assert overlapped == pytest.approx(max(t_high, t_low))


def _devices(rows):
    return {row["name"]: row["device"] for row in rows}


def test_explain_mixtral_on_duplex_4_routes_decode_to_pim_and_prefill_experts_to_xpu(cli_json):
    """Must-show of issue 3. Decode batch 64: each of 8 experts gets about 64 * 2 / 8 = 16
    tokens (Op/B about 16 < 35) and GQA decode attention has Op/B about deg_grp = 4: Logic-PIM;
    QKV and the output projection of 64 rows have Op/B about 62: xPU. A 4096-token prefill gives
    each expert about 1024 tokens (Op/B about 790): xPU."""
    base = ("explain", "--model", "mixtral-8x7b", "--system", "duplex-4", "--set", "routing=opb")
    decode = _devices(cli_json(*base, "--decode-requests", "64", "--context", "1024")["ops"])
    assert decode["experts"] == "logic-pim"
    assert decode["attn_decode"] == "logic-pim"
    assert decode["qkv"] == "h100"
    assert decode["o_proj"] == "h100"
    prefill = _devices(cli_json(*base, "--prefill-tokens", "4096")["ops"])
    assert prefill["experts"] == "h100"
