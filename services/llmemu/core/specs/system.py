"""System specs: processors, how many devices run one replica, and what joins them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmemu.core.specs.device import DeviceSpec
from llmemu.core.topology import Topology


class Processor(BaseModel):
    """A processor of every device of the system (an xPU, a Logic-PIM, an NPU...)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str = Field(description="name in results, e.g. h100, logic-pim")
    device: DeviceSpec
    owns_memory: bool = Field(True, description="its memory capacity holds weights and KV")
    concurrent_memory: bool = Field(
        True,
        description="its memory traffic proceeds while the primary's does (dual row buffers, "
        "Duplex's bank bundles); false: they take turns (one row buffer), so nothing overlaps",
    )
    channel_placement: Literal["round-robin", "greedy"] | None = Field(
        None,
        description="how decoding requests' KV is placed on its device's `channels` when the "
        "batch gives per-request contexts (core/channels.py); None: perfectly balanced",
    )


class Link(BaseModel):
    """The interconnect between the devices of one replica."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    bytes_per_s: float = Field(gt=0, description="per-direction bandwidth per device, B/s")
    latency_s: float = Field(0.0, ge=0, description="one hop, s")


class SystemSpec(BaseModel):
    """One serving replica: `tensor_parallel` devices, each holding every processor listed."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str
    processors: tuple[Processor, ...] = Field(min_length=1)
    tensor_parallel: int = Field(1, ge=1, description="devices sharding each layer")
    interconnect: Link | None = Field(
        None, description="device-to-device link (needed when TP > 1)"
    )
    memory_utilization: float = Field(
        0.9, gt=0, le=1, description="fraction of memory the server may use (vLLM's default)"
    )
    topology: Topology | None = Field(
        None,
        description="edge clusters: nodes (one per TP device, node 0 the master), routers and "
        "links; collectives then take each path's hops (None: one hop between devices)",
    )
    source: str = ""

    @model_validator(mode="after")
    def _check(self) -> SystemSpec:
        if self.tensor_parallel > 1 and self.interconnect is None:
            raise ValueError(f"system {self.name!r} has tensor_parallel > 1 but no interconnect")
        if self.topology is not None and len(self.topology.nodes) != self.tensor_parallel:
            raise ValueError(
                f"system {self.name!r}: topology has {len(self.topology.nodes)} nodes but "
                f"tensor_parallel is {self.tensor_parallel}; give one node per device"
            )
        return self

    @property
    def primary(self) -> Processor:
        """The processor that runs what no routing policy moves elsewhere."""
        return self.processors[0]

    @property
    def memory_capacity_bytes(self) -> float:
        """Usable memory of the replica (all devices)."""
        own = sum(p.device.memory_capacity_bytes for p in self.processors if p.owns_memory)
        return own * self.tensor_parallel * self.memory_utilization
