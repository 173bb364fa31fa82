"""Settings of the distributed services (gateway, scheduler, device worker), one class per
service with its own environment prefix (e.g. LLMEMU_SCHEDULER_REPLICA=r0). Every service
reads the same scenario (model, system, policy), so they agree on what is emulated."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Common(BaseSettings):
    scenario: str | None = Field(None, description="scenario YAML (model, system, policy)")
    model: str | None = Field(None, description="model preset, when no scenario is given")
    system: str | None = Field(None, description="system preset, when no scenario is given")
    overrides: list[str] = Field(default_factory=list, description="scenario key=value overrides")
    host: str = "127.0.0.1"
    speed: float = Field(1.0, gt=0, description="emulated seconds per wall second (all services)")


class WorkerSettings(_Common):
    model_config = SettingsConfigDict(env_prefix="LLMEMU_WORKER_", extra="forbid")

    port: int = Field(9100, ge=0, le=65535)
    processor: str = Field(description="the system processor this worker emulates, e.g. h100")
    node: int = Field(0, ge=0, description="which of the tensor-parallel devices (edge node)")
    name: str | None = Field(None, description="worker name in metrics; default processor-node")


class SchedulerSettings(_Common):
    model_config = SettingsConfigDict(env_prefix="LLMEMU_SCHEDULER_", extra="forbid")

    port: int = Field(8100, ge=0, le=65535, description="/metrics and /health")
    redis_url: str = "redis://127.0.0.1:6379/0"
    replica: str = Field("r0", description="replica id: its request stream and consumer name")
    workers: list[str] = Field(
        default_factory=list,
        description="processor=URL for each device worker (repeat a processor for each node)",
    )
    worker_timeout_s: float = Field(
        0.5, gt=0, description="a worker silent this long is down (detected within a second)"
    )
    served_model_name: str | None = None
    seed: int | None = None


class GatewaySettings(_Common):
    model_config = SettingsConfigDict(env_prefix="LLMEMU_GATEWAY_", extra="forbid")

    port: int = Field(8000, ge=0, le=65535)
    redis_url: str = "redis://127.0.0.1:6379/0"
    gateway_id: str | None = Field(None, description="name of its event stream; default random")
    router: str = Field("least-loaded", description="which replica gets a request: a router of cluster.router's registry")  # fmt: skip
    served_model_name: str | None = None
    api_keys: list[str] = Field(default_factory=list)
    max_waiting: int | None = Field(
        None, ge=0, description="sequences waiting at most; beyond: 429"
    )
    retry_after_s: int = Field(1, ge=0)
    max_body_bytes: int = Field(8 << 20, gt=0)
    max_body_items: int = Field(65536, gt=0)
    context_overflow: Literal["clamp", "error"] = "clamp"
    seed: int | None = None
    tokenizer: str | None = Field(None, description="tokenizer.json or its folder; default: cl100k_base")  # fmt: skip
    replica_lost_s: float = Field(
        30.0, gt=0, description="a replica silent this long: its requests end with a 503"
    )
