"""The `cluster` section of a scenario: identical replicas behind a router, or pools of
different systems, each serving both phases (mixed) or one of them (prefill, decode)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_REPLICAS = 4096
"""More replicas than any fleet this emulator is meant to size: a larger count is a typo."""


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class LinkSpec(_Spec):
    """The network a disaggregated fleet moves KV caches over (alpha-beta, shared by
    concurrent transfers)."""

    name: str = Field("kv-link", description="label in the output")
    bandwidth_bytes_per_s: float = Field(gt=0, description="bytes per second, whole link")
    latency_s: float = Field(0.0, ge=0, description="seconds added to every transfer")


class PoolSpec(_Spec):
    name: str = Field(min_length=1, description="pool name; replicas are <name>-<i>")
    system: str | dict[str, Any] | None = Field(
        None, description="preset name or inline system (default: the scenario's)"
    )
    replicas: int = Field(1, gt=0, le=MAX_REPLICAS, description="replicas in the pool")
    role: Literal["mixed", "prefill", "decode"] = Field(
        "mixed", description="mixed serves both phases; prefill hands its KV to decode"
    )
    policy: dict[str, Any] = Field(
        default_factory=dict, description="keys of the scenario's policy to override here"
    )


class ClusterSpec(_Spec):
    replicas: int | None = Field(
        None, gt=0, le=MAX_REPLICAS, description="N copies of the scenario's system"
    )
    pools: list[PoolSpec] | None = Field(None, description="heterogeneous pools instead")
    router: str = Field("round-robin", description="router name (core/fleet/routers.py)")
    router_options: dict[str, float] = Field(
        default_factory=dict,
        description="router knobs (weighted: queue, kv, prefix; prefix-affinity: slack)",
    )
    link: LinkSpec | None = Field(None, description="required when pools have prefill/decode")

    @field_validator("router")
    @classmethod
    def _known_router(cls, name: str) -> str:
        from llmemu.core.fleet.routers import ROUTERS

        if name not in ROUTERS:
            raise ValueError(
                f"unknown router {name!r}; choose one of: {', '.join(sorted(ROUTERS))}"
            )
        return name

    @model_validator(mode="after")
    def _shape(self) -> ClusterSpec:
        if (self.replicas is None) == (self.pools is None):
            raise ValueError("give exactly one of replicas: N or pools: [...]")
        pools = self.pools or []
        names = [p.name for p in pools]
        if len(set(names)) != len(names):
            raise ValueError(f"pool names must be unique (got {names})")
        roles = {p.role for p in pools}
        split = roles & {"prefill", "decode"}
        if split and split != {"prefill", "decode"}:
            raise ValueError(
                f"a {split.pop()} pool needs a pool of the other phase; add it or make it mixed"
            )
        if split and self.link is None:
            raise ValueError(
                "prefill/decode pools move KV over a link; add link: "
                "{bandwidth_bytes_per_s: ..., latency_s: ...}"
            )
        return self

    def pool_list(self) -> list[PoolSpec]:
        """Every pool, the `replicas: N` form as one mixed pool named `replica`."""
        if self.pools is not None:
            return list(self.pools)
        return [PoolSpec(name="replica", replicas=self.replicas or 1)]

    @property
    def disaggregated(self) -> bool:
        return any(p.role != "mixed" for p in self.pool_list())
