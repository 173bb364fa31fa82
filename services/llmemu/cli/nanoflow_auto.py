"""`batching: nanoflow` without `options`: search the pipeline for this deployment, as NanoFlow
does, instead of running the paper's pipeline for a 70B model on 8 A100s everywhere.

The search is `llmemu tune`'s with a fixed number of evaluations and no time limit, so the
same scenario always finds the same pipeline; it is cached under the cache folder, keyed by
a hash of everything it reads (model, system, policy, mean lengths), so it runs once per
scenario. Any `options` key (even `overlap: true`, the paper's pipeline) skips the search.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from typing import Any

from llmemu.cli.files import Loaded
from llmemu.core.batching import check_settings
from llmemu.core.simulate import Workload
from llmemu.service.cache_dir import cache_dir, read_cached, write_cached

EVALUATIONS = 200
"""Pipelines timed per search. On the NanoFlow example (LLaMA-2-70B, 8 x A100, 512/512)
200 found 212.1 ms per iteration against the paper's pipeline's 216.1 ms, where 50 found
nothing better. That search took about 3 minutes on a 2-core host at load average ~10
(docs/nanoflow.md: `tune` times 2000 in 10-20 s on a quiet one)."""
SEARCH_VERSION = "1"


def needs_search(loaded: Loaded) -> bool:
    policy = loaded.spec.policy
    return policy.batching == "nanoflow" and not policy.options


def with_searched_pipeline(loaded: Loaded, workload: Workload) -> tuple[Loaded, str | None]:
    """The scenario with nanoflow's options searched (or read from the cache), and where
    the cached search lives; unchanged, and None, when it needs no search."""
    if not needs_search(loaded):
        return loaded, None
    check_settings(loaded.spec.policy)  # a refused setting should not wait for a search
    mean_in, mean_out = float(workload.inputs.mean()), float(workload.outputs.mean())
    name = f"nanoflow/{_key(loaded, mean_in, mean_out)}.json"
    cached = read_cached(name)
    options = json.loads(cached) if cached is not None else _search(loaded, mean_in, mean_out)
    if cached is None:
        write_cached(name, json.dumps(options))
    policy = loaded.spec.policy.model_copy(update={"options": options})
    spec = loaded.spec.model_copy(update={"policy": policy})
    return dataclasses.replace(loaded, spec=spec), str(cache_dir() / name)


def _key(loaded: Loaded, mean_in: float, mean_out: float) -> str:
    read = {
        "model": loaded.model.model_dump(mode="json"),
        "system": loaded.system.model_dump(mode="json"),
        "policy": loaded.spec.policy.model_dump(mode="json"),
        "lengths": [round(mean_in), round(mean_out)],
        "evaluations": EVALUATIONS,
        "version": SEARCH_VERSION,
    }
    text = json.dumps(read, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _search(loaded: Loaded, mean_in: float, mean_out: float) -> dict[str, Any]:
    from llmemu.core.nanoflow.tune import as_options, tune

    print(
        f"nanoflow: searching the pipeline for {loaded.model.name} on {loaded.system.name} "
        f"({EVALUATIONS} pipelines, once: the result is cached)",
        file=sys.stderr,
        flush=True,
    )
    tuned = tune(loaded.model, loaded.system, loaded.spec.policy, mean_in, mean_out, max_evaluations=EVALUATIONS)  # fmt: skip
    return as_options(tuned.spec)
