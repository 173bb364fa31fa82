"""Settings of `llmemu serve`: flags, or LLMEMU_* environment variables (e.g. LLMEMU_SPEED)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMEMU_", extra="forbid")

    scenario: str | None = Field(
        None, description="scenario YAML (model, system, policy, workload)"
    )
    model: str | None = Field(None, description="model preset, when no scenario is given")
    system: str | None = Field(None, description="system preset, when no scenario is given")
    overrides: list[str] = Field(default_factory=list, description="scenario --set key=value")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    replica_ports: int | None = Field(
        None, ge=1, le=65535, description="a fleet's replicas also on ports N, N+1, ... (None: not)"
    )
    speed: float = Field(
        1.0, gt=0, allow_inf_nan=False, description="emulated seconds per wall second"
    )
    served_model_name: str | None = Field(None, description="model id; default: the preset name")
    api_keys: list[str] = Field(
        default_factory=list, description="accepted Bearer keys; empty: open"
    )
    max_waiting: int | None = Field(
        None, ge=0, description="sequences waiting at most; beyond: 429 (None: queue, as vLLM)"
    )
    retry_after_s: int = Field(1, ge=0, description="Retry-After of a 429")
    max_body_bytes: int = Field(8 << 20, gt=0, description="request bodies above: 413")
    max_body_items: int = Field(
        65536, gt=0, description="JSON items (commas) per body at most; above: 413"
    )
    max_header_bytes: int = Field(
        64 << 10, gt=0, description="request line and headers at most, bytes; above: 431"
    )
    header_timeout_s: float = Field(
        10.0, gt=0, allow_inf_nan=False, description="a request head must arrive within; else 408"
    )
    max_connections: int | None = Field(
        None, gt=0, description="open connections at most; above: 503 (None: fds less 256)"
    )
    context_overflow: Literal["clamp", "error"] = Field(
        "clamp",
        description="prompt + max_tokens over the context: clamp max_tokens (vLLM 0.33) or 400 "
        "(older vLLM)",
    )
    lag_bound_ms: float = Field(
        5.0, gt=0, description="emulated ms of p99 pacing lag (last 10 s) above which to warn"
    )
    seed: int | None = Field(
        None, description="seed of output lengths and text; default: scenario's"
    )
    tokenizer: str | None = Field(
        None,
        description="a Hugging Face tokenizer.json or a folder holding one; default: cl100k_base",
    )
