"""What a batching policy composes: its own module so that policies (edge, nanoflow,
interleave) and the registry in batching.py can both import it without a circle."""

from __future__ import annotations

from dataclasses import dataclass

from llmemu.core.cost import Pricer
from llmemu.core.pricing import ExpertRouting
from llmemu.core.routing import Router
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.model import ModelSpec


@dataclass(frozen=True, slots=True)
class Parts:
    """What a batching policy composes."""

    model: ModelSpec
    policy: PolicySpec
    pricer: Pricer
    router: Router
    experts: ExpertRouting
