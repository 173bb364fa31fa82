"""All-reduce algorithms, by name. Each prices one all-reduce of a payload over a link.

Alpha-beta model: time = steps x latency + bytes on the busiest link / bandwidth. When the
system has a topology (edge clusters), `LinkModel.topology` carries it and every algorithm
prices its phases on that topology's paths (`llmemu.core.edge.collectives`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from llmemu.core.edge import collectives as on_topology
from llmemu.core.registry import lookup
from llmemu.core.topology import Topology


@dataclass(frozen=True, slots=True)
class LinkModel:
    """What a collective needs to know about the devices it joins."""

    devices: int
    bytes_per_s: float
    latency_s: float
    topology: Topology | None = None
    """Nodes, routers and links with their own latencies (None: one hop between devices)."""

    def graph(self) -> Topology:
        """The topology, or every device on one switch with this link's latency end to end."""
        if self.topology is not None:
            return self.topology
        return on_topology.switch_topology(self.devices, self.bytes_per_s, self.latency_s)


AllReduce = Callable[[float, LinkModel], float]


def ring(payload_bytes: float, link: LinkModel) -> float:
    """Reduce-scatter then all-gather: 2(N-1) steps, each moving payload/N per device."""
    if link.topology is not None:
        return on_topology.ring(payload_bytes, link.topology)
    n = link.devices
    if n <= 1:
        return 0.0
    steps = 2 * (n - 1)
    return steps * link.latency_s + steps * payload_bytes / n / link.bytes_per_s


def star(payload_bytes: float, link: LinkModel) -> float:
    """Workers send to the master (device 0), which sums and sends back (TPI-LLM)."""
    return on_topology.star(payload_bytes, link.graph())


def tree(payload_bytes: float, link: LinkModel) -> float:
    """Depth-2 tree: pairs of workers aggregate, then the master (TPI-LLM App. A.1)."""
    return on_topology.tree(payload_bytes, link.graph())


ALLREDUCE: dict[str, AllReduce] = {"ring": ring, "star": star, "tree": tree}


def get_allreduce(name: str) -> AllReduce:
    return lookup(ALLREDUCE, name, "policy.allreduce")
