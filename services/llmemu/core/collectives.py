"""All-reduce algorithms, by name. Each prices one all-reduce of a payload over a link.

Alpha-beta model: time = steps x latency + bytes on the busiest link / bandwidth. Systems
with a topology of their own (edge clusters) register algorithms that read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from llmemu.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class LinkModel:
    """What a collective needs to know about the devices it joins."""

    devices: int
    bytes_per_s: float
    latency_s: float


AllReduce = Callable[[float, LinkModel], float]


def ring(payload_bytes: float, link: LinkModel) -> float:
    """Reduce-scatter then all-gather: 2(N-1) steps, each moving payload/N per device."""
    n = link.devices
    if n <= 1:
        return 0.0
    steps = 2 * (n - 1)
    return steps * link.latency_s + steps * payload_bytes / n / link.bytes_per_s


ALLREDUCE: dict[str, AllReduce] = {"ring": ring}


def get_allreduce(name: str) -> AllReduce:
    try:
        return ALLREDUCE[name]
    except KeyError:
        valid = ", ".join(sorted(ALLREDUCE))
        raise ConfigError(f"unknown policy.allreduce {name!r}; choose one of: {valid}") from None
