"""Single-user runs of TPI-LLM's settings, shared by the `tpi-llm` reproduction's claims.

The paper does not state its prompt. TPI-LLM's run script (`examples/run_llama.py`) asks
for it on the terminal when `--prompt` is empty and encodes it without special tokens, with
`--length 20` new tokens; its length is unknown, so every run is a 1-token prompt (the
shortest it accepts) and 19 generated tokens, in FP32, one request at a time. Each run is a
fresh process (`cold_start`): the script loads the model lazily and serves one prompt, so
the first token starts with no weights in memory (docs/edge.md).
"""

from __future__ import annotations

from typing import Any

from llmemu.core import presets
from llmemu.core.catalog import load_system
from llmemu.core.replica import build_replica
from llmemu.core.results import summarize
from llmemu.core.scenario import PolicySpec
from llmemu.core.simulate import materialise, run
from llmemu.core.specs.loading import load_model
from llmemu.core.workload import WorkloadSpec

PROMPT_TOKENS = 1
OUTPUT_TOKENS = 19
KLONET = "edge-klonet-8"


def klonet(latency_s: float = 1e-3, bytes_per_s: float = 37.5e6) -> dict[str, Any]:
    """The edge-klonet-8 preset with every link at `latency_s` and `bytes_per_s`."""
    data = dict(presets.raw("systems", KLONET))
    topology = dict(data["topology"], link_latency_s=latency_s, link_bytes_per_s=bytes_per_s)
    return data | {"topology": topology, "name": f"{KLONET} ({latency_s * 1e3:g} ms)"}


def simulate(
    model: str, window: int, system: str | dict = KLONET, allreduce: str = "star", requests=1
) -> dict[str, Any]:
    """The summary of single-user serving, `requests` requests one after another."""
    spec = load_model(model).model_copy(update={"dtype_bytes": 4})
    policy = PolicySpec(
        batching="edge",
        allreduce=allreduce,
        memory_window=window,
        max_num_seqs=1,
        max_num_batched_tokens=512,
        options={"cold_start": True},
    )
    replica = build_replica(spec, load_system(system), policy)
    workload = WorkloadSpec.model_validate(
        {
            "requests": requests,
            "arrival": {"kind": "closed", "concurrency": 1},
            "input_tokens": {"kind": "constant", "value": PROMPT_TOKENS},
            "output_tokens": {"kind": "constant", "value": OUTPUT_TOKENS},
        }
    )
    return summarize(run(replica, materialise(workload, 0)), 0.0)
