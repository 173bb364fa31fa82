"""The distributed gateway picks replicas with the offline fleet's router registry, from
the load reports on the bus (no Redis needed: the reports are set by hand)."""

from __future__ import annotations

import time

from llmemu.core.fleet.routers import Arrival, make_router
from llmemu.service.distributed.redis_gateway import RedisGatewayTransport


def _gateway(router: str, loads: dict[str, tuple[int, int, float]]) -> RedisGatewayTransport:
    gateway = RedisGatewayTransport("redis://127.0.0.1:1/0", router=make_router(router, {}))
    gateway.model = "m"
    now = time.time()
    gateway.loads = {
        name: {"healthy": True, "t": now, "model": "m", "waiting": w, "running": r, "kv": kv}
        for name, (w, r, kv) in loads.items()
    }
    return gateway


def test_least_loaded_counts_waiting_and_running_then_kv_usage():
    # a: 1 + 3 = 4 sequences; b: 2 + 0 = 2 (fewest); c: 0 + 2 = 2, but more KV used than b.
    gateway = _gateway("least-loaded", {"a": (1, 3, 0.1), "b": (2, 0, 0.3), "c": (0, 2, 0.5)})
    arrival = Arrival(100, 10)
    assert gateway.pick(arrival) == "b"
    gateway.loads["b"]["kv"] = 0.9
    assert gateway.pick(arrival) == "c"


def test_round_robin_takes_turns_and_health_checks_do_not_move_it():
    gateway = _gateway("round-robin", {"a": (0, 0, 0.0), "b": (5, 5, 0.5)})
    arrival = Arrival(100, 10)
    picks = []
    for _ in range(4):
        assert gateway.pick() == "a"  # the health check and admission: the least loaded
        picks.append(gateway.pick(arrival))
    assert picks == ["a", "b", "a", "b"]


def test_stale_unhealthy_and_other_models_replicas_are_never_picked():
    gateway = _gateway("round-robin", {"a": (0, 0, 0.0), "b": (0, 0, 0.0), "c": (0, 0, 0.0)})
    gateway.loads["a"]["t"] -= 60  # last report a minute ago: stale
    gateway.loads["b"]["healthy"] = False
    assert {gateway.pick(Arrival(1, 1)) for _ in range(3)} == {"c"}
    gateway.loads["c"]["model"] = "other"
    assert gateway.pick(Arrival(1, 1)) is None
