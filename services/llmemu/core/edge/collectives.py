"""All-reduce over a topology: star, depth-2 tree and ring, as TPI-LLM §3.2 and App. A.1
compare them.

Each algorithm is a sequence of phases; in a phase some nodes send a tensor to others at
once. A phase lasts until its slowest flow arrives: the flow's path latency (every hop's
latency added) plus the time its busiest link needs to carry everything crossing it in that
direction (flows that share a link share its bandwidth: the star's incast on the master's
link). Where tensors are summed, aggregation takes bytes summed / the topology's
aggregation rate. With no data and free aggregation this gives the paper's hop counts: on
the 8-device gateway-core layout star 8 tau, tree 16 tau, ring 56 tau; with a master and two
workers behind one router, star 2 t_link, tree and ring 4 t_link (Eq. 11).

A system without a topology is read as every device on one non-blocking switch whose two
hops add up to the link's latency: the ring then costs exactly what the flat alpha-beta
ring of `llmemu.core.collectives` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from llmemu.core.topology import Topology

Flow = tuple[str, str, float]


def phase_s(topology: Topology, flows: Iterable[Flow]) -> float:
    """Seconds until every (src, dst, bytes) flow, sent at once, has arrived."""
    flows = [f for f in flows if f[0] != f[1]]
    load: dict[tuple[int, int], float] = {}
    for src, dst, size in flows:
        for hop in topology.path(src, dst):
            load[hop] = load.get(hop, 0.0) + size
    longest = 0.0
    for src, dst, _ in flows:
        path = topology.path(src, dst)
        latency = sum(topology.links[i].latency_s for i, _ in path)
        drain = max(load[hop] / topology.links[hop[0]].bytes_per_s for hop in path)
        longest = max(longest, latency + drain)
    return longest


def aggregate_s(topology: Topology, summed_bytes: float) -> float:
    rate = topology.aggregation_bytes_per_s
    return summed_bytes / rate if rate else 0.0


def star(payload_bytes: float, topology: Topology) -> float:
    """Workers send to the master, which sums and sends the result back to each."""
    master, workers = topology.master, topology.workers
    if not workers:
        return 0.0
    gather = phase_s(topology, [(w, master, payload_bytes) for w in workers])
    scatter = phase_s(topology, [(master, w, payload_bytes) for w in workers])
    return gather + aggregate_s(topology, len(topology.nodes) * payload_bytes) + scatter


def tree_groups(topology: Topology) -> list[tuple[str, ...]]:
    """Depth-2 tree: workers in pairs; the first of each pair aggregates for both."""
    workers = topology.workers
    return [workers[i : i + 2] for i in range(0, len(workers), 2)]


def tree(payload_bytes: float, topology: Topology) -> float:
    """Leaves -> group aggregators -> master, then back down the same way."""
    master, groups = topology.master, tree_groups(topology)
    if not groups:
        return 0.0
    p = payload_bytes
    leaves_up = [(leaf, g[0], p) for g in groups for leaf in g[1:]]
    heads_up = [(g[0], master, p) for g in groups]
    total = phase_s(topology, leaves_up) + phase_s(topology, heads_up)
    total += phase_s(topology, [(d, s, b) for s, d, b in heads_up])
    total += phase_s(topology, [(d, s, b) for s, d, b in leaves_up])
    if leaves_up:
        total += aggregate_s(topology, max(len(g) for g in groups) * p)
    return total + aggregate_s(topology, (len(groups) + 1) * p)


def ring(payload_bytes: float, topology: Topology) -> float:
    """Reduce-scatter then all-gather around the nodes in order: 2(N-1) steps of payload/N."""
    names = [n.name for n in topology.nodes]
    n = len(names)
    if n <= 1:
        return 0.0
    chunk = payload_bytes / n
    step = phase_s(topology, [(names[i], names[(i + 1) % n], chunk) for i in range(n)])
    return 2 * (n - 1) * step + (n - 1) * aggregate_s(topology, 2 * chunk)


def broadcast(payload_bytes: float, topology: Topology) -> float:
    """The master sends one tensor to every worker (TPI-LLM's input embeddings)."""
    return phase_s(topology, [(topology.master, w, payload_bytes) for w in topology.workers])


@lru_cache(maxsize=64)
def switch_topology(devices: int, bytes_per_s: float, latency_s: float) -> Topology:
    """Every device on one switch; the two hops of a path add up to `latency_s`."""
    link = {"bytes_per_s": bytes_per_s, "latency_s": latency_s / 2}
    return Topology.model_validate(
        {
            "nodes": [{"name": f"d{i}"} for i in range(devices)],
            "routers": ["switch"],
            "links": [{"ends": (f"d{i}", "switch"), **link} for i in range(devices)],
        }
    )
