"""Network topologies of edge clusters: devices, routers and the links between them.

A path between two devices is the fewest-hop route through the routers; every link on it
adds its latency, and a link shared by several flows at once divides its bandwidth among
them. Node 0 is the master (TPI-LLM's rank 0: it holds the embedding and the LM head).

`layout: gateway-core` builds the TPI-LLM testbed's shape (App. A.7): each device behind
its own home gateway r<i>, every gateway on one core router, so a device-to-device path
is 4 hops (h2 -> r2 -> core -> r1 -> h1).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator


class TopologyNode(BaseModel):
    """One device of the cluster."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str
    device: str | None = Field(None, description="device preset; None: the system's processor")
    share: float | None = Field(
        None, gt=0, le=1, description="fraction of heads and FFN columns it holds (None: equal)"
    )


class TopologyLink(BaseModel):
    """A full-duplex link; each direction has the whole bandwidth."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    ends: tuple[str, str]
    bytes_per_s: float = Field(gt=0, description="per-direction bandwidth, B/s")
    latency_s: float = Field(0.0, ge=0, description="one-way latency of this hop, s")


def gateway_core(data: dict[str, Any]) -> dict[str, Any]:
    """Expand `layout: gateway-core` (devices, device, link_bytes_per_s, link_latency_s)."""
    n = int(data["devices"])
    link = {"bytes_per_s": data["link_bytes_per_s"], "latency_s": data.get("link_latency_s", 0.0)}
    device = data.get("device")
    nodes = [{"name": f"h{i}", "device": device} for i in range(1, n + 1)]
    links = [{"ends": (f"h{i}", f"r{i}"), **link} for i in range(1, n + 1)]
    links += [{"ends": (f"r{i}", "core"), **link} for i in range(1, n + 1)]
    rest = {k: v for k, v in data.items() if k in ("aggregation_bytes_per_s",)}
    routers = [f"r{i}" for i in range(1, n + 1)] + ["core"]
    return {"nodes": nodes, "routers": routers, "links": links, **rest}


LAYOUTS = {"gateway-core": gateway_core}


class Topology(BaseModel):
    """Devices (node 0 is the master), routers and links."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    nodes: tuple[TopologyNode, ...] = Field(min_length=1)
    routers: tuple[str, ...] = ()
    links: tuple[TopologyLink, ...] = ()
    aggregation_bytes_per_s: float | None = Field(
        None, gt=0, description="rate an aggregator sums received tensors at, B/s (None: free)"
    )
    _paths: dict[tuple[str, str], tuple[tuple[int, int], ...]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _layout(cls, data: Any) -> Any:
        if isinstance(data, dict) and "layout" in data:
            name = data["layout"]
            if name not in LAYOUTS:
                raise ValueError(f"unknown layout {name!r}; choose one of: {', '.join(LAYOUTS)}")
            return LAYOUTS[name](data)
        return data

    @model_validator(mode="after")
    def _check(self) -> Topology:
        names = [n.name for n in self.nodes] + list(self.routers)
        if len(set(names)) != len(names):
            raise ValueError(f"node and router names must be unique (got {names})")
        for link in self.links:
            for end in link.ends:
                if end not in names:
                    raise ValueError(f"link {link.ends} names {end!r}, not a node or router")
        shares = [n.share for n in self.nodes if n.share is not None]
        if shares and (len(shares) != len(self.nodes) or abs(sum(shares) - 1) > 1e-6):
            raise ValueError(f"node shares must be given for every node and sum to 1 ({shares})")
        for node in self.nodes[1:]:
            self.path(self.nodes[0].name, node.name)
        return self

    @property
    def master(self) -> str:
        return self.nodes[0].name

    @property
    def workers(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes[1:])

    def shares(self) -> tuple[float, ...]:
        """Fraction of each layer held by each node (TPI-LLM's p_i)."""
        n = len(self.nodes)
        return tuple(node.share if node.share is not None else 1.0 / n for node in self.nodes)

    def path(self, src: str, dst: str) -> tuple[tuple[int, int], ...]:
        """(link index, direction 0 or 1) of every hop from src to dst, fewest hops first."""
        key = (src, dst)
        if key not in self._paths:
            self._paths[key] = self._bfs(src, dst)
        return self._paths[key]

    def _bfs(self, src: str, dst: str) -> tuple[tuple[int, int], ...]:
        adjacent: dict[str, list[tuple[str, int, int]]] = {}
        for i, (a, b) in enumerate(link.ends for link in self.links):
            adjacent.setdefault(a, []).append((b, i, 0))
            adjacent.setdefault(b, []).append((a, i, 1))
        came: dict[str, tuple[str, int, int] | None] = {src: None}
        queue = deque([src])
        while queue:
            here = queue.popleft()
            for there, index, direction in adjacent.get(here, []):
                if there not in came:
                    came[there] = (here, index, direction)
                    queue.append(there)
        if dst not in came:
            raise ValueError(f"no path from {src!r} to {dst!r}; add the links that join them")
        hops = []
        node = dst
        while came[node] is not None:
            prev, index, direction = came[node]
            hops.append((index, direction))
            node = prev
        return tuple(reversed(hops))

    def hops(self, src: str, dst: str) -> int:
        return len(self.path(src, dst))

    def latency_s(self, src: str, dst: str) -> float:
        return sum(self.links[i].latency_s for i, _ in self.path(src, dst))
