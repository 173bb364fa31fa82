"""Whether a scenario needs the fleet driver (cli/fleet.py), decided without importing it:
a single-replica simulation never loads the fleet's modules."""

from __future__ import annotations

import json

from llmemu.cli.files import Loaded
from llmemu.cli.reading import DATA_BYTES, read_text


def needs_fleet(loaded: Loaded) -> bool:
    """A cluster section, prefix caching, generated prompts with shared prefixes or sessions,
    a stretched trace, or a Mooncake trace (a single replica is then a fleet of one)."""
    wl = loaded.spec.workload
    if loaded.spec.cluster is not None or loaded.spec.policy.prefix_caching:
        return True
    if wl is None:
        return False
    if wl.prefix_groups or wl.sessions or wl.time_scale != 1.0:
        return True
    return bool(wl.trace and is_mooncake(loaded))


def is_mooncake(loaded: Loaded) -> bool:
    """The workload's trace is Mooncake's (its first line carries hash_ids)."""
    text = read_text(
        loaded._path(loaded.spec.workload.trace, "workload.trace"), "workload.trace", DATA_BYTES
    )
    first = text.split("\n", 1)[0]
    try:
        head = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(head, dict) and "hash_ids" in head
