"""TPI-LLM's network claims: the 3-node formulas (App. A.1), star against ring as link
latency rises, and how little bandwidth matters (§4.2, Fig. 5).

The sweep runs Llama 2-70B (`quick`: Llama 2-7B) with the scheduler on (w = 2) on the
8-device Klonet layout, every link at 1, 2, 5 or 10 ms and 300 Mbps or 1 Gbps.
"""

from __future__ import annotations

from llmemu.core.catalog import load_system
from llmemu.core.collectives import LinkModel, star
from llmemu.core.edge import collectives as on_topology
from llmemu.core.topology import Topology
from llmemu.reproduce import Claim
from llmemu.reproduce.tpi_llm_runs import klonet, simulate

LATENCIES_S = (1e-3, 2e-3, 5e-3, 10e-3)
BANDWIDTHS = {"300 Mbps": 37.5e6, "1 Gbps": 125e6}
BANDWIDTH_BAND = 0.10
"""'Little effect' read as: token latency moves by at most 10 % from 300 Mbps to 1 Gbps."""


def three_node_claims() -> list[Claim]:
    """App. A.1, Eq. 11: with no data and free aggregation, in units of one path's t_link."""
    link = {"bytes_per_s": 37.5e6, "latency_s": 1e-3}
    topology = Topology.model_validate(
        {
            "nodes": [{"name": "master"}, {"name": "w1"}, {"name": "w2"}],
            "routers": ["router"],
            "links": [{"ends": (n, "router"), **link} for n in ("master", "w1", "w2")],
        }
    )
    t_link = topology.latency_s("w1", "master")
    paper = {"star": 2, "tree": 4, "ring": 4}
    return [
        Claim(
            f"3 nodes: t_{name} / t_link",
            x,
            getattr(on_topology, name)(0.0, topology) / t_link,
            "x",
            "t_data = t_aggr = 0",
            x,
            x,
        )
        for name, x in paper.items()
    ]


def sweep(model: str, latencies: tuple[float, ...]) -> dict[tuple[str, str, float], float]:
    """Token latency (s) by (all-reduce, bandwidth, link latency)."""
    return {
        (algo, bw, lat): simulate(model, 2, klonet(lat, rate), algo)["tpot_s"]["mean"]
        for algo in ("star", "ring")
        for bw, rate in BANDWIDTHS.items()
        for lat in latencies
    }


def laptop_claim() -> Claim:
    """§3.3 case study: one all-reduce of Llama 2-7B's 16 KB hidden state on the laptops."""
    system = load_system("edge-laptops-4")
    link = LinkModel(4, 63.75e6, 5e-3, topology=system.topology)
    emulated = star(4096 * 4.0, link) * 1e3
    return Claim(
        "laptops: star all-reduce, Llama 2-7B",
        14.0,
        emulated,
        "ms",
        "Table 7 latencies read as one-way",
    )


def network_claims(quick: bool) -> list[Claim]:
    model = "llama-2-7b" if quick else "llama-2-70b"
    latencies = (LATENCIES_S[0], LATENCIES_S[-1]) if quick else LATENCIES_S
    times = sweep(model, latencies)
    rows = three_node_claims()
    for lat in latencies:
        for bw in BANDWIDTHS:
            for algo in ("star", "ring"):
                rows.append(
                    Claim(
                        f"sweep {algo} {lat * 1e3:g} ms {bw}",
                        None,
                        times[(algo, bw, lat)],
                        "s/token",
                        model,
                    )
                )
    low, high = latencies[0], latencies[-1]
    margin = {
        lat: times[("ring", "300 Mbps", lat)] - times[("star", "300 Mbps", lat)]
        for lat in (low, high)
    }
    rows.append(Claim(f"ring - star at {low * 1e3:g} ms", None, margin[low], "s/token"))
    rows.append(Claim(f"ring - star at {high * 1e3:g} ms", None, margin[high], "s/token"))
    growth = margin[high] - margin[low]
    note = f"(ring - star) at {high * 1e3:g} ms minus at {low * 1e3:g} ms"
    rows.append(Claim("star's margin grows with latency", None, growth, "s/token", note, 1e-6, 1e9))
    for lat in (low, high):
        slow, fast = times[("star", "300 Mbps", lat)], times[("star", "1 Gbps", lat)]
        rows.append(
            Claim(
                f"star 300 Mbps -> 1 Gbps at {lat * 1e3:g} ms",
                None,
                (fast - slow) / slow,
                "rel",
                "change of token latency",
                -BANDWIDTH_BAND,
                BANDWIDTH_BAND,
            )
        )
    return rows + [laptop_claim()]
