"""The policy a system preset carries: its paper's own way of running that hardware
(NeuPIMs: attention on the PIM, two sub-batches interleaved; TPI-LLM: star all-reduce and a
window of two blocks), applied under whatever the scenario does not say itself."""

from __future__ import annotations

from typing import Any

from llmemu.core.catalog import system_policy

BATCHING_KEYS = ("batching", "sub_batches", "memory_window", "options")
"""Settings that belong to one batching policy: a scenario that names its own batching
takes none of the system's (NeuPIMs' sub_batches mean nothing under continuous batching)."""


def with_system_policy(data: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The scenario mapping with its system's policy filled in under its own, and the keys
    that came from the system."""
    defaults = system_policy(data.get("system"))
    given = data.get("policy")
    if not defaults or not (given is None or isinstance(given, dict)):
        return data, ()  # a policy that is not a mapping is left for validation to name
    given = given or {}
    taken = {
        key: value
        for key, value in defaults.items()
        if key not in given and not (key in BATCHING_KEYS and "batching" in given)
    }
    if not taken:
        return data, ()
    return {**data, "policy": {**taken, **given}}, tuple(taken)
