"""The overlap timeline on hand-computed cases, and P(R) against NanoFlow Table 3."""

from __future__ import annotations

import pytest

from llmemu.core.nanoflow.overlap import (
    REST,
    NanoOp,
    Resource,
    held_s,
    performance,
    schedule,
)

C, M, N = Resource.COMPUTE, Resource.MEMORY, Resource.NETWORK


def op(name, resource, share, alone_s, deps=()):
    return NanoOp(name, 0, 0, (0, 1), "gpu", resource, share, alone_s, tuple(deps))


@pytest.mark.parametrize(
    ("resource", "share", "expected"),
    [
        (C, 0.4, 0.4),  # Table 3: GEMM P = R
        (C, 0.9, 0.9),
        (M, 0.1, 0.2),  # Table 3 GEMV row
        (M, 0.2, 0.3),
        (M, 0.4, 0.8),  # Fig. 6 text: decode attention at R = 0.4 reaches 80 %
        (M, 0.8, 0.85),
        (M, 0.9, 0.95),
        (M, 1.0, 1.0),
        (N, 0.1, 0.3),  # Table 3 network row
        (N, 0.2, 0.5),
        (N, 0.8, 0.9),
        (N, 0.9, 1.0),
        (M, 0.3, 0.55),  # halfway between (0.2, 0.3) and (0.4, 0.8)
        (N, 0.5, 0.7),  # 0.5 + (0.9 - 0.5) * (0.5 - 0.2) / (0.8 - 0.2)
    ],
)
def test_performance_follows_table_3(resource, share, expected):
    assert performance(resource, share) == pytest.approx(expected)


def test_share_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="share 1.2"):
        performance(C, 1.2)


def test_two_ops_on_different_resources_overlap_with_their_shares():
    # GEMM 8 ms alone at R = 0.8 -> 8 / 0.8 = 10 ms; all-reduce 2 ms alone at R = 0.2 ->
    # 2 / P(0.2) = 2 / 0.5 = 4 ms; 0.8 + 0.2 = 1 fits, so both start at 0.
    gemm, net = schedule([op("gemm", C, 0.8, 8e-3), op("ar", N, 0.2, 2e-3)])
    assert (gemm.start_s, gemm.end_s) == pytest.approx((0.0, 10e-3))
    assert (net.start_s, net.end_s) == pytest.approx((0.0, 4e-3))


def test_an_op_waits_until_its_share_fits():
    # 0.8 + 0.3 > 1: the all-reduce starts when the GEMM ends (10 ms) and lasts
    # 2 / P(0.3) = 2 / (0.5 + 0.4 * 0.1 / 0.6) = 3.529 ms.
    _, net = schedule([op("gemm", C, 0.8, 8e-3), op("ar", N, 0.3, 2e-3)])
    assert net.start_s == pytest.approx(10e-3)
    assert net.end_s == pytest.approx(10e-3 + 2e-3 / (0.5 + 0.4 / 6))


def test_one_lane_runs_one_op_at_a_time():
    # Two GEMMs at 0.5 would fit the units, but they share the compute lane.
    a, b = schedule([op("a", C, 0.5, 1e-3), op("b", C, 0.5, 1e-3)])
    assert (a.end_s, b.start_s, b.end_s) == pytest.approx((2e-3, 2e-3, 4e-3))


def test_rest_takes_what_the_fixed_shares_leave():
    # Decode attention 4 ms alone at R = 0.4 -> 4 / 0.8 = 5 ms. The GEMM (10 ms alone)
    # holds 0.6 meanwhile: 3 ms of its work by t = 5 ms, then the whole device for the
    # remaining 7 ms: it ends at 12 ms, having held 10 / 12 of the units on average.
    gemm, attn = schedule([op("gemm", C, REST, 10e-3), op("attn", M, 0.4, 4e-3)])
    assert attn.end_s == pytest.approx(5e-3)
    assert gemm.end_s == pytest.approx(12e-3)
    assert gemm.share == pytest.approx(10 / 12)


def test_units_held_are_the_fixed_shares_running_with_gaps_left_idle():
    # GEMM 8 ms alone at R = 0.5 -> 16 ms; decode attention 2 ms alone at R = 0.2 ->
    # 2 / P(0.2) = 2 / 0.3 = 20/3 ms. Held: 0.7 until 20/3 ms, then 0.5 until 16 ms:
    # 0.7 * 20/3 + 0.5 * 28/3 = 28/3 ms; between 5 and 10 ms, 0.7 * 5/3 + 0.5 * 10/3 = 17/6.
    bars = schedule([op("gemm", C, 0.5, 8e-3), op("attn", M, 0.2, 2e-3)])
    assert held_s(bars, 0.0, 16e-3) == pytest.approx({"gpu": 28 / 3 * 1e-3})
    assert held_s(bars, 5e-3, 10e-3) == pytest.approx({"gpu": 17 / 6 * 1e-3})


def test_a_rest_op_holds_every_unit_the_fixed_ones_leave():
    # The REST case above: the units are all held from 0 to 12 ms, so any interval is
    # held for its whole length, and the whole run for what its bars hold between them.
    bars = schedule([op("gemm", C, REST, 10e-3), op("attn", M, 0.4, 4e-3)])
    assert held_s(bars, 4e-3, 6e-3) == pytest.approx({"gpu": 2e-3})
    whole = sum(b.share * (b.end_s - b.start_s) for b in bars)
    assert held_s(bars, 0.0, 12e-3) == pytest.approx({"gpu": 12e-3}) == {"gpu": whole}


def test_dependencies_hold_across_lanes():
    # qkv (2 ms at 1.0) -> attention (1 ms alone, R = 0.4: 1.25 ms) -> o_proj (1 ms).
    bars = schedule(
        [op("qkv", C, 1.0, 2e-3), op("attn", M, 0.4, 1e-3, [0]), op("o", C, 1.0, 1e-3, [1])]
    )
    assert [b.start_s for b in bars] == pytest.approx([0.0, 2e-3, 3.25e-3])
    assert bars[-1].end_s == pytest.approx(4.25e-3)


def test_priority_decides_which_ready_op_a_lane_starts():
    ops = [op("first", C, 1.0, 1e-3), op("second", C, 1.0, 2e-3)]
    first, second = schedule(ops, priority=[1, 0])
    assert second.start_s == 0.0
    assert first.start_s == pytest.approx(2e-3)
