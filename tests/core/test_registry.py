"""Registries whose entries name a module (Deferred) import it on first lookup; every such
entry must name a module and attribute that exist, or the scenario that picks it fails."""

from __future__ import annotations

import pytest

from llmemu.core.batching import BATCHING
from llmemu.core.errors import ConfigError
from llmemu.core.registry import Deferred, lookup
from llmemu.core.replica import MEMORY_BUDGETS
from llmemu.core.results import SECTIONS


def test_every_deferred_entry_resolves_to_a_callable():
    tables = {"BATCHING": BATCHING, "MEMORY_BUDGETS": MEMORY_BUDGETS, "SECTIONS": SECTIONS}
    deferred = 0
    for table_name, table in tables.items():
        for name, entry in table.items():
            if isinstance(entry, Deferred):
                deferred += 1
                assert callable(lookup(table, name, table_name)), (table_name, name)
    assert deferred == 5  # edge, sub-batch-interleave, nanoflow; edge's budget and section


def test_a_deferred_lookup_gives_the_named_object():
    from llmemu.core.nanoflow.pricer import nanoflow

    assert lookup(BATCHING, "nanoflow", "policy.batching") is nanoflow


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown policy.batching 'nano'; choose one of: contin"):
        lookup(BATCHING, "nano", "policy.batching")
