"""Assemble a fleet from a scenario's cluster section: one engine per replica, the router,
and the link between prefill and decode pools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from llmemu.core.errors import ConfigError
from llmemu.core.fleet.driver import FleetDriver
from llmemu.core.fleet.link import SharedLink
from llmemu.core.fleet.members import FleetReplica
from llmemu.core.fleet.routers import make_router
from llmemu.core.fleet.spec import ClusterSpec, PoolSpec
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.model import ModelSpec
from llmemu.core.specs.system import SystemSpec


def pool_policy(base: PolicySpec, pool: PoolSpec, where: str) -> PolicySpec:
    """The scenario's policy with the pool's overrides, validated like the file."""
    if not pool.policy:
        return base
    try:
        return PolicySpec.model_validate({**base.model_dump(), **pool.policy})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{where}.policy.{field}: {err['msg']}") from None


def share_price_caches(source: Any, target: Any) -> None:
    """Give `target`, a PlanPricer of a replica identical to `source`'s, the same caches of
    prices: the per-op Pricer and the decode memo are functions of the batch alone, so one
    replica's misses warm the others, where each would otherwise price the same shapes anew.
    What carries state of its own (expert sampling, an edge node's cold start) stays apart."""
    while source is not None and target is not None:
        if type(source) is not type(target):
            return
        target.pricer = source.pricer
        if getattr(source, "memo", None) is not None:
            target.memo = source.memo
        source, target = getattr(source, "inner", None), getattr(target, "inner", None)


def build_fleet(
    cluster: ClusterSpec,
    model: ModelSpec,
    system: SystemSpec,
    policy: PolicySpec,
    load_system: Callable[[Any], SystemSpec],
    *,
    seed: int = 0,
) -> FleetDriver:
    """`load_system` turns a pool's system entry (preset name or mapping) into a spec."""
    replicas: list[FleetReplica] = []
    for p, pool in enumerate(cluster.pool_list()):
        where = f"cluster.pools[{p}]" if cluster.pools else "cluster"
        pool_system = system if pool.system is None else load_system(pool.system)
        pool_pol = pool_policy(policy, pool, where)
        first = None
        for i in range(pool.replicas):
            replica = build_replica(model, pool_system, pool_pol, seed=seed + len(replicas))
            if first is None:
                first = replica
            else:
                share_price_caches(first.engine.pricer, replica.engine.pricer)
            name = f"{pool.name}-{i}"
            replicas.append(FleetReplica(name, pool.name, pool.role, replica))
    router = make_router(cluster.router, cluster.router_options)
    link = decode_router = None
    if cluster.disaggregated:
        assert cluster.link is not None  # the spec's validator requires it
        link = SharedLink(cluster.link.bandwidth_bytes_per_s, cluster.link.latency_s)
        decode_router = make_router(cluster.router, cluster.router_options)
    return FleetDriver(
        replicas,
        router,
        cluster.router,
        decode_router=decode_router,
        link=link,
        link_name=cluster.link.name if cluster.link else "",
    )
