"""Topology paths and all-reduce times against TPI-LLM §3.2 and App. A.1 (Eq. 11)."""

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.collectives import ALLREDUCE, LinkModel, ring
from llmemu.core.edge import collectives as on_topology
from llmemu.core.topology import Topology

TAU_S = 1.0e-3


def three_nodes(bytes_per_s: float = 1e18) -> Topology:
    """App. A.1: a master and two workers behind one router, tau on each link."""
    link = {"bytes_per_s": bytes_per_s, "latency_s": TAU_S}
    return Topology.model_validate(
        {
            "nodes": [{"name": "m"}, {"name": "w1"}, {"name": "w2"}],
            "routers": ["r"],
            "links": [{"ends": (n, "r"), **link} for n in ("m", "w1", "w2")],
        }
    )


def test_klonet_path_is_four_hops():
    # App. A.7: h2 -> r2 -> r9 (core) -> r1 -> h1.
    topology = load_system("edge-klonet-8").topology
    assert topology.hops("h2", "h1") == 4
    assert topology.latency_s("h2", "h1") == pytest.approx(4 * TAU_S)


@pytest.mark.parametrize(("name", "taus"), [("star", 8), ("tree", 16), ("ring", 56)])
def test_klonet_hop_counts(name, taus):
    # §3.2: on the 8-device preset star costs 8 tau, tree 16 tau, ring 7 + 7 steps x 4 hops
    # = 56 tau. Zero data and free aggregation leave only link latencies.
    system = load_system("edge-klonet-8")
    topology = system.topology.model_copy(update={"aggregation_bytes_per_s": None})
    link = LinkModel(8, 37.5e6, TAU_S, topology=topology)
    assert ALLREDUCE[name](0.0, link) == pytest.approx(taus * TAU_S)


def test_three_node_case_eq_11():
    # App. A.1 with t_data = t_barrier = t_aggr = 0: t_star = 2 t_link, t_tree = t_ring =
    # 4 t_link, where t_link is one worker-master path: 2 hops of tau.
    topology = three_nodes()
    t_link = 2 * TAU_S
    assert on_topology.star(0.0, topology) == pytest.approx(2 * t_link)
    assert on_topology.tree(0.0, topology) == pytest.approx(4 * t_link)
    assert on_topology.ring(0.0, topology) == pytest.approx(4 * t_link)


def test_three_node_data_terms():
    # 3 MB at 1 MB/s per link, no latency. Ring: 4 steps of P/3 = 1 MB each over
    # uncontended links = 4 s, the paper's (4/3) t_data. Star: both workers share the
    # master's link, 2 x 3 MB / 1 MB/s up and again down = 12 s (incast, which the
    # paper's 2 t_data leaves out).
    link = {"bytes_per_s": 1e6, "latency_s": 0.0}
    topology = Topology.model_validate(
        {
            "nodes": [{"name": "m"}, {"name": "w1"}, {"name": "w2"}],
            "routers": ["r"],
            "links": [{"ends": (n, "r"), **link} for n in ("m", "w1", "w2")],
        }
    )
    assert on_topology.ring(3e6, topology) == pytest.approx(4.0)
    assert on_topology.star(3e6, topology) == pytest.approx(12.0)


def test_aggregation_time():
    # Star: the master sums 3 tensors of 1 MB at 1 GB/s = 3 ms on top of 2 t_link = 4 ms.
    topology = three_nodes().model_copy(update={"aggregation_bytes_per_s": 1e9})
    assert on_topology.star(1e6, topology) == pytest.approx(4e-3 + 3e-3, rel=1e-6)


def test_flat_ring_unchanged_without_topology():
    # 8 GPUs, 300 GB/s, 3 us: 14 steps x 3 us + 14 x (64 MB / 8) / 300 GB/s.
    link = LinkModel(8, 300e9, 3e-6)
    expected = 14 * 3e-6 + 14 * 64e6 / 8 / 300e9
    assert ring(64e6, link) == pytest.approx(expected)
    switch = on_topology.switch_topology(8, 300e9, 3e-6)
    assert on_topology.ring(64e6, switch) == pytest.approx(expected)


def test_bad_topology_is_reported():
    with pytest.raises(ValueError, match="no path"):
        Topology.model_validate(
            {"nodes": [{"name": "a"}, {"name": "b"}], "links": []},
        )
