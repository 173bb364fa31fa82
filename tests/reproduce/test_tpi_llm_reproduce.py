"""`llmemu reproduce tpi-llm --quick` against TPI-LLM's published numbers (papers.md §4)."""

import pytest

from llmemu.reproduce import Options, run_experiment


@pytest.fixture(scope="module")
def claims():
    return {c.claim: c for c in run_experiment("tpi-llm", Options(quick=True))}


@pytest.mark.parametrize(("algorithm", "taus"), [("star", 8), ("tree", 16), ("ring", 56)])
def test_hop_counts(claims, algorithm, taus):
    # §3.2 on the 8-device Klonet layout.
    assert claims[f"{algorithm} all-reduce latency, 8 devices"].emulated == pytest.approx(taus)


def test_three_node_formulas(claims):
    # App. A.1, Eq. 11: t_star = 2 t_link, t_tree = t_ring = 4 t_link.
    assert claims["3 nodes: t_star / t_link"].emulated == pytest.approx(2)
    assert claims["3 nodes: t_tree / t_link"].emulated == pytest.approx(4)
    assert claims["3 nodes: t_ring / t_link"].emulated == pytest.approx(4)


def test_llama2_7b_scheduler_on_within_20_percent(claims):
    # Table 1, Llama 2-7B with the memory scheduler on: 1.7 GB and 2.6 s/token.
    assert claims["Llama 2-7B w=2 peak memory"].emulated == pytest.approx(1.7, rel=0.20)
    assert claims["Llama 2-7B w=2 latency"].emulated == pytest.approx(2.6, rel=0.20)


def test_star_beats_ring_more_as_latency_rises(claims):
    # §4.2: star's advantage over ring grows with link latency (1 -> 10 ms).
    at_1ms = claims["ring - star at 1 ms"].emulated
    at_10ms = claims["ring - star at 10 ms"].emulated
    assert at_10ms > at_1ms >= 0


def test_bandwidth_changes_latency_little(claims):
    # Fig. 5: 300 Mbps -> 1 Gbps barely changes token latency (read as within 10 %).
    for latency in ("1 ms", "10 ms"):
        change = claims[f"star 300 Mbps -> 1 Gbps at {latency}"].emulated
        assert abs(change) <= 0.10
