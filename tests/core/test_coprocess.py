"""Duplex's expert co-processing and expert layouts, against hand-computed times."""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.cost import Pricer
from llmemu.core.planner import experts
from llmemu.core.routing.coprocess import coprocess_experts
from llmemu.core.routing.experts import expert_groups, layout_time, subset
from llmemu.core.specs.loading import load_model

MIXTRAL = load_model("mixtral-8x7b")
# One Mixtral expert: 3 matrices of 4096 x 14336 in FP16 = 352,321,536 B of weights, and per
# token 2 * 3 * 4096 * 14336 = 352,321,536 FLOPs and (2 * 4096 + 3 * 14336) * 2 = 102,400 B.
EXPERT_WEIGHT_BYTES = 3 * 4096 * 14336 * 2
FLOPS_PER_TOKEN = 2 * 3 * 4096 * 14336
ACT_BYTES_PER_TOKEN = (2 * 4096 + 3 * 14336) * 2


def test_split_of_eight_equal_experts_balances_the_two_sides():
    """8 experts of 40 tokens on one Duplex device at peak rates. On the xPU an expert is
    memory-bound: (352,321,536 + 40 * 102,400) B / 3.352e12 B/s = 106.3 us. On the Logic-PIM
    it is compute-bound (Op/B 40 > 8): 40 * 352,321,536 / 107.26e12 = 131.4 us. Keeping k on
    the xPU: max(106.3 k, 131.4 (8 - k)) is 425.3 vs 525.6 at k = 4 and 531.7 vs 394.2 at
    k = 5, so the best split is 4 and 4 (525.6 us), against 850.6 us all on the xPU."""
    pricer = Pricer(load_system("duplex"), 2, ideal=True)
    op = experts(MIXTRAL, (40,) * 8)
    parts = {p.processor: p for p in coprocess_experts(pricer, op, "h100", "logic-pim", 1)}
    xpu_s = 4 * (EXPERT_WEIGHT_BYTES + 40 * ACT_BYTES_PER_TOKEN) / 3.352e12
    pim_s = 4 * 40 * FLOPS_PER_TOKEN / 107.26e12
    assert parts["h100"].op.expert_tokens == (40,) * 4
    assert parts["logic-pim"].op.expert_tokens == (40,) * 4
    assert parts["h100"].time_s == pytest.approx(xpu_s)
    assert parts["logic-pim"].time_s == pytest.approx(pim_s)
    assert pim_s == pytest.approx(525.6e-6, rel=1e-3)
    # Balanced: the two sides differ by less than one expert's time on the slower side.
    assert abs(parts["h100"].time_s - parts["logic-pim"].time_s) < pim_s / 4


def test_coldest_experts_move_to_the_pim_first():
    """Tokens (1, 1, 2, 2, 100, 100, 100, 100) at peak rates. A hot expert costs the xPU
    (352,321,536 + 100 * 102,400) B / 3.352e12 = 108.2 us. The PIM prices its share as one
    grouped GEMM, max(FLOPs / 107.26e12, bytes / 13.408e12): the 4 cold experts alone are
    memory-bound, 4 * 352.3 MB / 13.408e12 = 105.1 us, leaving 4 * 108.2 = 432.8 us on the
    xPU; adding one hot expert makes the PIM compute-bound at 106 * 352,321,536 / 107.26e12 =
    348.2 us (the cold experts' reads hide under it) against 3 * 108.2 = 324.6 us on the xPU;
    a sixth expert would cost the PIM 206 tokens' 676.6 us. Best: the 4 cold and 1 hot."""
    pricer = Pricer(load_system("duplex"), 2, ideal=True)
    op = experts(MIXTRAL, (1, 1, 2, 2, 100, 100, 100, 100))
    parts = {p.processor: p for p in coprocess_experts(pricer, op, "h100", "logic-pim", 1)}
    assert sorted(parts["logic-pim"].op.expert_tokens) == [1, 1, 2, 2, 100]
    assert sorted(parts["h100"].op.expert_tokens) == [100, 100, 100]
    assert parts["logic-pim"].time_s == pytest.approx(106 * FLOPS_PER_TOKEN / 107.26e12)


def test_subsets_add_up_to_the_whole_op():
    op = experts(MIXTRAL, (3, 0, 5, 7, 1, 0, 2, 6))
    a, b = subset(op, (3, 0, 5, 7)), subset(op, (1, 0, 2, 6))
    assert a.flops + b.flops == pytest.approx(op.flops)
    assert a.bytes + b.bytes == pytest.approx(op.bytes)
    # 3 active experts in `a`: their weights, plus 15 tokens of activations.
    assert a.bytes == pytest.approx(3 * EXPERT_WEIGHT_BYTES + 15 * ACT_BYTES_PER_TOKEN)


@pytest.mark.parametrize(
    ("devices", "num_experts", "sliced", "groups"),
    [
        (4, 8, False, 4),  # Mixtral EP: 2 whole experts per device
        (4, 8, True, 1),  # Mixtral ET: one node, every device a slice of every expert
        (8, 64, False, 8),  # GLaM EP: 8 experts per device
        (16, 8, False, 8),  # Grok-1 EP: 8 experts, each over 2 devices
        (16, 8, True, 2),  # Grok-1 ET: EP across the 2 nodes, ET inside each
    ],
)
def test_expert_groups(devices, num_experts, sliced, groups):
    assert expert_groups(devices, num_experts, sliced=sliced) == groups


def test_expert_parallelism_waits_for_the_busiest_device():
    """Two Duplex devices, plain EP: device 0 holds experts 0-3 with 10 tokens each, device 1
    experts 4-7 with 10, 10, 10 and 50. On the Logic-PIM at peak rates device 1 computes
    80 tokens * 352,321,536 FLOPs / 107.26e12 = 262.8 us and device 0 40 tokens' 131.4 us but
    reads 4 experts' weights at 13.41 TB/s (105.1 us): the layer takes device 1's 262.8 us."""
    pricer = Pricer(load_system("duplex-2"), 2, ideal=True)
    op = experts(MIXTRAL, (10, 10, 10, 10, 10, 10, 10, 50))
    seconds = layout_time(pricer, op, "logic-pim", 2)
    assert seconds == pytest.approx(80 * FLOPS_PER_TOKEN / 107.26e12)
