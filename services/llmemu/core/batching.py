"""Batching policies: how a scheduled batch becomes a timed iteration.

`continuous` plans the whole batch as one and composes it with the `stages` timeline
(identical to running op after op when there is one processor). Policies that split a
batch (NanoFlow's nano-batches, NeuPIMs' sub-batches) register a factory here that builds
their own PlanPricer. A factory gets everything the replica is made of.

A policy that reads a setting the others ignore (`memory_window`, `sub_batches`, keys of
`options`) lists it in SETTINGS, so that a scenario setting it under another policy is
refused instead of silently doing nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from llmemu.core.edge.defaults import CHECKPOINT_DTYPE_BYTES, RUNTIME_BYTES
from llmemu.core.errors import ConfigError
from llmemu.core.parts import Parts
from llmemu.core.price_memo import PricedByParts
from llmemu.core.pricing import PlanPricer
from llmemu.core.registry import Deferred, lookup
from llmemu.core.scenario import PolicySpec
from llmemu.core.sequential import sequential
from llmemu.core.timeline import stages

BatchingFactory = Callable[[Parts], PlanPricer]


def continuous(parts: Parts) -> PlanPricer:
    pricer = PlanPricer(parts.model, parts.pricer, parts.router, stages, parts.experts)
    if parts.policy.routing == "xpu-only":  # one processor: a price is a sum of op prices
        pricer.memo = PricedByParts(pricer)
    return pricer


BATCHING: dict[str, BatchingFactory | Deferred] = {
    "continuous": continuous,
    "edge": Deferred("llmemu.core.edge.pricer", "edge"),
    "sub-batch-interleave": Deferred("llmemu.core.interleave", "sub_batch_interleave"),
    "sequential": sequential,
    "nanoflow": Deferred("llmemu.core.nanoflow.pricer", "nanoflow"),
}


SETTINGS: dict[str, dict[str, tuple[Any, ...]]] = {
    # edge/pricer.py and edge/memory.py
    "edge": {
        "memory_window": (None, 0),
        "options.cold_start": (False,),
        "options.checkpoint_dtype_bytes": (CHECKPOINT_DTYPE_BYTES,),
        "options.runtime_bytes": (RUNTIME_BYTES,),
    },
    # interleave.py
    "sub-batch-interleave": {"sub_batches": (1,)},
    # nanoflow/spec.py pipeline_from_options: the values that leave the paper's pipeline as
    # it is; none for nano_batches, whose presence drops the paper's splits
    "nanoflow": {
        "options.nano_batches": (),
        "options.splits": (None, {}),
        "options.shares": (None, {}),
        "options.order": ("breadth",),
        "options.overlap": (True,),
    },
}
"""By batching policy, the settings only it reads (a PolicySpec field or `options.<key>`),
each with the values that have no effect (its default), which any policy accepts. Data here,
not in the policies' modules, so that checking a scenario imports none of them."""

_ABSENT = object()


def get_batching(name: str) -> BatchingFactory:
    return lookup(BATCHING, name, "policy.batching")


def _option_key(path: str) -> str | None:
    """The `policy.options` key a SETTINGS path names ("options.<key>"), None for a field."""
    return path.removeprefix("options.") if path.startswith("options.") else None


KNOWN_OPTIONS = sorted(
    key for table in SETTINGS.values() for path in table if (key := _option_key(path))
)
"""Every `policy.options` key some batching policy reads."""


def check_settings(policy: PolicySpec) -> None:
    """Refuse settings that `policy.batching` ignores but another batching policy reads,
    all of them in one message."""
    get_batching(policy.batching)
    check_option_names(policy.options)
    own = SETTINGS.get(policy.batching, {})
    ignored = [
        (path, value, inert)
        for table in SETTINGS.values()
        for path, inert in table.items()
        if path not in own
        and (value := _setting(policy, path)) is not _ABSENT
        and not any(_same(value, v) for v in inert)
    ]
    if not ignored:
        return
    path, value, inert = ignored[0]
    readers = " or ".join(n for n, t in SETTINGS.items() if path in t)
    fix = f"set policy.{path} to {inert[-1]!r} or remove it" if inert else f"remove policy.{path}"
    others = "".join(f"; so does policy.{p}={v!r}" for p, v, _ in ignored[1:])
    raise ConfigError(
        f"policy.{path}={value!r} has no effect with batching {policy.batching!r} (only "
        f"{readers} reads it); set policy.batching to {readers}, or {fix}{others}"
    )


def check_option_names(options: dict[str, Any]) -> None:
    """A key no batching policy reads is a typo (e.g. `cold_strat`), not a silent no-op."""
    for key in options:
        if key not in KNOWN_OPTIONS:
            close = difflib.get_close_matches(key, KNOWN_OPTIONS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"policy.options.{key} is not a setting of any batching policy; {hint}"
                f"the known ones are {', '.join(KNOWN_OPTIONS)}"
            )


def switch_batching(policy: PolicySpec, batching: str) -> PolicySpec:
    """The policy under another batching policy, the settings only others read dropped (a
    field back to its default)."""
    own = SETTINGS.get(batching, {})
    own_keys = {_option_key(path) for path in own}
    update: dict[str, Any] = {"batching": batching}
    update["options"] = {k: v for k, v in policy.options.items() if k in own_keys}
    for table in SETTINGS.values():
        for path, inert in table.items():
            if _option_key(path) is None and path not in own:
                update[path] = inert[0]
    return policy.model_copy(update=update)


def _setting(policy: PolicySpec, path: str) -> Any:
    key = _option_key(path)
    if key is not None:
        return policy.options.get(key, _ABSENT)
    return getattr(policy, path)


def _same(value: Any, default: Any) -> bool:
    # True == 1 in Python; a flag given as a number is not the default flag.
    return value == default and isinstance(value, bool) == isinstance(default, bool)
