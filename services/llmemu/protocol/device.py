"""Messages between the scheduler and a device worker (HTTP, once per iteration), nothing else.

The scheduler sends every op placed on the worker's processor in one iteration; the worker
answers each op's seconds per layer, in the same order. An op travels as its numbers only
(the core's `Op` is rebuilt on the worker), so the worker prices it with its own cost model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OpWire(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str = Field(description="gemm, attention or collective")
    flops: float = Field(ge=0)
    bytes: float = Field(ge=0)
    net_bytes: float = Field(0.0, ge=0)
    tokens: int = Field(0, ge=0)
    payload_bytes: float = Field(0.0, ge=0)
    weight_bytes: float = Field(0.0, ge=0)
    expert_tokens: list[int] = Field(default_factory=list)
    context_tokens: int = Field(0, ge=0, description="decode attention: KV tokens attended")
    layers: int = Field(1, ge=1, description="layers this op runs in, this iteration")


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iteration: int = Field(ge=0, description="the scheduler's iteration counter")
    processor: str = Field(description="processor the ops were placed on")
    kv_bytes: float = Field(0.0, ge=0, description="KV cache in use on the replica, bytes")
    ops: list[OpWire]


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
