"""Messages between the scheduler and a device worker (HTTP, once per iteration), nothing else.

The scheduler sends every op placed on the worker's processor in one iteration; the worker
answers each op's seconds per layer, in the same order. An op travels as its numbers only
(the core's `Op` is rebuilt on the worker), so the worker prices it with its own cost model.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from llmemu.core.ops import OpKind

MAX_AMOUNT = 1e30
"""FLOPs or bytes of one op at most: a trillion-parameter model's iteration is ~1e16, so a
larger number is a broken sender, and times summed from it could overflow to infinity."""
MAX_COUNT = 1 << 40
"""Tokens of one op at most (any context is far below)."""
Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


class OpWire(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(max_length=64)
    kind: OpKind = Field(description="gemm, attention or collective")
    flops: Amount
    bytes: Amount
    net_bytes: Amount = 0.0
    tokens: Count = 0
    payload_bytes: Amount = 0.0
    weight_bytes: Amount = 0.0
    expert_tokens: list[Count] = Field(default_factory=list, max_length=4096)
    context_tokens: Count = Field(0, description="decode attention: KV tokens attended")
    layers: int = Field(1, ge=1, le=4096, description="layers this op runs in, this iteration")


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    iteration: int = Field(ge=0, description="the scheduler's iteration counter")
    processor: str = Field(max_length=64, description="processor the ops were placed on")
    kv_bytes: Amount = Field(0.0, description="KV cache in use on the replica, bytes")
    ops: list[OpWire] = Field(max_length=65536)


class ExecuteResponse(BaseModel):
    times_s: list[float] = Field(description="seconds per layer of each op, in request order")
    busy_s: float = Field(description="seconds this worker was busy this iteration (all layers)")


class WorkerInfo(BaseModel):
    """GET /info: what the worker emulates (the scheduler checks it at start)."""

    name: str
    processor: str
    node: int
    system: str
    device: str
