"""TensorRT-LLM 0.13's published throughput rows as llmemu scenarios.

Each row is run as `trtllm-bench throughput` ran it (data/serving/README.md): every request
queued at once, constant lengths, in-flight batching with the engine's max batch size and max
tokens per iteration, and "Guaranteed No Evict" admission (a request enters only when the KV
cache holds its whole prompt and output). With one burst of identical requests our
`projected-peak` rule admits the same requests: both reserve each request's final length.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from llmemu.core.catalog import load_system
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.dtypes import dtype_update
from llmemu.core.specs.loading import load_model
from llmemu.core.specs.model import ModelSpec, param_count
from llmemu.core.specs.system import SystemSpec
from llmemu.core.workload import Burst, Constant, WorkloadSpec

DATA = Path(__file__).resolve().parents[3] / "data" / "serving" / "trtllm_0.13_throughput.csv"
MODELS = {
    "Llama-3.1-8B": "llama-3.1-8b",
    "Llama-3.1-70B": "llama-3.1-70b",
    "Mixtral-8x7B": "mixtral-8x7b",
    "Llama-2-7B": "llama-2-7b",
}

HELD_OUT = {
    ("Llama-3.1-8B", "H200", "FP8", 1, 1000, 1000): "H200: takes the H100's fitted serving "
    "numbers (same GH100 chip, same 700 W limit), so it tests their transfer to another board",
    ("Llama-3.1-70B", "H100", "FP8", 2, 1000, 1000): "TP2 on H100: a tensor-parallel degree "
    "no fitted H100 row has, so it tests the NVLink4 collective model between TP1 and TP4",
    ("Llama-2-7B", "H100", "FP16", 1, 1000, 1000): "a model no fitted H100 row serves "
    "(multi-head attention: 4x the KV bytes per token of Llama-3.1-8B)",
}
"""Rows kept out of every fit, chosen before fitting, with the reason for each."""


@dataclass(frozen=True)
class Row:
    model: str
    gpu: str
    dtype: str
    tp: int
    input_tokens: int
    output_tokens: int
    published: float
    """Output tokens per second of the whole group of GPUs."""

    @property
    def key(self) -> tuple:
        return (self.model, self.gpu, self.dtype, self.tp, self.input_tokens, self.output_tokens)

    @property
    def held_out(self) -> bool:
        return self.key in HELD_OUT

    @property
    def group(self) -> str:
        return f"{self.gpu} {self.dtype} TP{self.tp}"

    @property
    def label(self) -> str:
        return f"{self.model} {self.group} {self.input_tokens}/{self.output_tokens}"

    @property
    def requests(self) -> int:
        """What trtllm-bench ran: 30,000 requests for 128/128, 3,000 otherwise."""
        return 30000 if (self.input_tokens, self.output_tokens) == (128, 128) else 3000


def load_rows(path: Path = DATA) -> list[Row]:
    with path.open() as f:
        return [
            Row(
                r["model"],
                r["gpu"],
                r["dtype"],
                int(r["gpus"]),
                int(r["input_tokens"]),
                int(r["output_tokens"]),
                float(r["output_tokens_per_s"]),
            )
            for r in csv.DictReader(f)
        ]


def row_model(row: Row) -> ModelSpec:
    model = load_model(MODELS[row.model])
    return model.model_copy(update=dtype_update(row.dtype.lower()))


def bench_sizing(model: ModelSpec, system: SystemSpec, isl: int, osl: int) -> tuple[int, int]:
    """Max batch size and max tokens per iteration as `trtllm-bench build` sizes an engine
    for a dataset (TensorRT-LLM tensorrt_llm/bench/build/tuning.py): the requests of
    isl + osl tokens that 95 % of the memory left by the weights holds (at least one KV head
    per GPU), capped at 4,096 and rounded up; tokens = batch x (1 + isl / osl), capped at
    32,768, at least 2,048, rounded up."""
    tp = system.tensor_parallel
    capacity = system.primary.device.memory_capacity_bytes * tp
    weights = param_count(model) * model.weight_width
    per_token = 2 * model.num_layers * max(tp, model.num_kv_heads) * model.head_dim
    requests = 0.95 * (capacity - weights) / (per_token * model.kv_width) / (isl + osl)
    batch = min(requests, 4096)
    tokens = min(batch * (1 + isl / osl), 32768)
    return _round_batch(batch), _round_tokens(tokens)


def _round_batch(b: float) -> int:
    if b < 256:
        return max(64, 32 * math.ceil(b / 32))
    step = 128 if b < 1024 else 256
    return step * math.ceil(b / step)


def _round_tokens(t: float) -> int:
    if t < 4096:
        return max(2048, 256 * math.ceil(t / 256))
    step = 512 if t < 8192 else 1024
    return step * math.ceil(t / step)


def row_scenario(row: Row, requests: int | None = None):
    """(model, system, policy, workload) of one row; `requests` caps the burst."""
    model = row_model(row)
    system = load_system(f"{row.gpu.lower()}x{row.tp}")
    batch, tokens = bench_sizing(model, system, row.input_tokens, row.output_tokens)
    policy = PolicySpec(
        max_num_seqs=batch,
        max_num_batched_tokens=tokens,
        admission="projected-peak",
        engine="trtllm",
    )
    n = row.requests if requests is None else min(row.requests, requests)
    workload = WorkloadSpec(
        requests=n,
        arrival=Burst(kind="burst"),
        input_tokens=Constant(kind="constant", value=row.input_tokens),
        output_tokens=Constant(kind="constant", value=row.output_tokens),
    )
    return model, system, policy, workload
