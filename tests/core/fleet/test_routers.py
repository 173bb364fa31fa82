"""Routers pick by what a view of each replica shows; cluster errors name the field."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from llmemu.cli.files import load_scenario_data
from llmemu.core.errors import ConfigError
from llmemu.core.fleet.routers import Arrival, make_router


@dataclass
class View:
    name: str
    num_waiting: int = 0
    num_running: int = 0
    kv_usage: float = 0.0
    num_assigned: int = 0
    cached: int = 0

    def cached_blocks(self, hashes: tuple[int, ...]) -> int:
        return min(self.cached, len(hashes))


REQ = Arrival(100, 10, hashes=tuple(range(10)))


def test_least_loaded_orders_by_queue_then_kv_then_turns():
    router = make_router("least-loaded", {})
    views = [View("a", 2, 1), View("b", 1, 1, 0.5), View("c", 0, 2, 0.4), View("d", 1, 1, 0.4)]
    assert router.pick(REQ, views) == 2  # 2 requests each for b, c, d; c and d at 0.4 KV
    views[3].num_assigned, views[2].num_assigned = 0, 5
    assert router.pick(REQ, views) == 3  # tie on load and KV: fewer sent so far


def test_prefix_affinity_prefers_the_longest_prefix_within_the_slack():
    router = make_router("prefix-affinity", {"slack": 2})
    views = [
        View("a", cached=3),
        View("b", num_waiting=2, cached=8),
        View("c", num_running=3, cached=10),
    ]
    # c holds the most but carries 3 requests, more than 2 above the least loaded (0).
    assert router.pick(REQ, views) == 1


def test_weighted_sums_normalised_scores():
    router = make_router("weighted", {"queue": 1.0, "kv": 0.0, "prefix": 2.0})
    views = [View("a", num_waiting=0, cached=2), View("b", num_waiting=4, cached=10)]
    # a: queue 1 + prefix 2 x 2/10 = 1.4; b: queue 0 + prefix 2 x 10/10 = 2.0.
    assert router.pick(REQ, views) == 1


def test_session_sticks_to_the_first_choice():
    router = make_router("session", {})
    views = [View("a", num_running=1), View("b")]
    first = Arrival(10, 10, session=7)
    assert router.pick(first, views) == 1
    views[1].num_running = 9
    assert router.pick(first, views) == 1  # later turns follow, however loaded
    assert router.pick(Arrival(10, 10, session=8), views) == 0


def test_round_robin_cycles():
    router = make_router("round-robin", {})
    views = [View("a"), View("b"), View("c")]
    assert [router.pick(REQ, views) for _ in range(5)] == [0, 1, 2, 0, 1]


def _load(cluster: dict) -> None:
    data = {"model": "llama-3-8b", "system": "h100x1", "cluster": cluster}
    load_scenario_data(data, None, [], "s.yaml")


@pytest.mark.parametrize(
    ("cluster", "message"),
    [
        (
            {"replicas": 2, "router": "random"},
            r"cluster.router: Value error, unknown router 'random'; choose one of: "
            "least-loaded, prefix-affinity, round-robin, session, weighted",
        ),
        ({"replicas": 0}, r"s.yaml: cluster.replicas: Input should be greater than 0"),
        ({}, r"cluster: Value error, give exactly one of replicas: N or pools"),
        (
            {"pools": [{"name": "p", "role": "prefill"}]},
            r"a prefill pool needs a pool of the other phase",
        ),
        (
            {"pools": [{"name": "p", "role": "prefill"}, {"name": "d", "role": "decode"}]},
            r"prefill/decode pools move KV over a link; add link:",
        ),
    ],
)
def test_cluster_errors_are_one_line_naming_the_field(cluster, message):
    with pytest.raises(ConfigError, match=message) as err:
        _load(cluster)
    assert "\n" not in str(err.value)


def test_router_options_that_do_not_apply_are_refused():
    with pytest.raises(ConfigError, match=r"cluster.router_options: \['slack'\] do not apply to router 'weighted'; its options: kv, prefix, queue"):  # fmt: skip
        make_router("weighted", {"slack": 3})
