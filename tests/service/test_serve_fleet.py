"""`llmemu serve` of a cluster scenario: one endpoint, a scheduler per replica, the router
registry of the offline fleet picking the replica of each sequence."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from serve_helpers import in_process, sample

from llmemu.cli.files import load_scenario_data
from llmemu.core.errors import ConfigError
from llmemu.service.api.app import create_app
from llmemu.service.api.settings import ServeSettings
from llmemu.service.live.emulation import build_emulation
from llmemu.service.live.replica_app import replica_apps

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _app(cluster: dict):
    data = {"model": "llama-3-8b", "system": "h100x1", "cluster": cluster}
    settings = ServeSettings(model="llama-3-8b", system="h100x1", speed=50.0)
    loaded = load_scenario_data(data, None, [], "test")
    return create_app(settings, emulation=build_emulation(loaded, settings))


async def test_round_robin_spreads_sequences_over_the_replicas():
    app = _app({"replicas": 3, "router": "round-robin"})
    async with in_process(app) as client:
        body = {"model": "llama-3-8b", "prompt": "hello there", "max_tokens": 8}
        replies = await asyncio.gather(
            *(client.post("/v1/completions", json=body) for _ in range(6))
        )
        assert [r.status_code for r in replies] == [200] * 6
        assert all(r.json()["usage"]["completion_tokens"] == 8 for r in replies)
        transport = app.state.gateway.transport
        assert dict(transport.decisions) == {"replica-0": 2, "replica-1": 2, "replica-2": 2}
        metrics = (await client.get("/metrics")).text
        assert sample(metrics, "vllm:generation_tokens_total") == 48
        assert (await client.get("/health")).status_code == 200


async def test_least_loaded_sends_a_burst_to_idle_replicas_first():
    app = _app({"replicas": 2, "router": "least-loaded"})
    async with in_process(app) as client:
        body = {"model": "llama-3-8b", "prompt": "hi", "max_tokens": 4, "n": 2}
        reply = await client.post("/v1/completions", json=body)
        assert reply.status_code == 200
        # Two sequences arrive together: the second sees the first queued on replica-0.
        assert dict(app.state.gateway.transport.decisions) == {"replica-0": 1, "replica-1": 1}


def test_prefix_decode_pools_are_refused_live():
    with pytest.raises(ConfigError, match="prefill/decode pools are emulated offline only"):
        _app(
            {
                "pools": [{"name": "p", "role": "prefill"}, {"name": "d", "role": "decode"}],
                "link": {"bandwidth_bytes_per_s": 1e9},
            }
        )


async def test_metrics_carry_each_replicas_engine_series_with_a_replica_label():
    app = _app({"replicas": 2, "router": "round-robin"})
    async with in_process(app) as client:
        for max_tokens in (3, 5):  # round-robin: the first to replica-0, the second to replica-1
            body = {"model": "llama-3-8b", "prompt": "hello there", "max_tokens": max_tokens}
            assert (await client.post("/v1/completions", json=body)).status_code == 200
        text = (await client.get("/metrics")).text
    for replica, tokens in (("replica-0", 3), ("replica-1", 5)):
        labels = {"model_name": "llama-3-8b", "engine": "0", "replica": replica}
        assert sample(text, "vllm:generation_tokens_total", **labels) == tokens
        assert sample(text, "vllm:request_success_total", finished_reason="length", **labels) == 1
        assert sample(text, "vllm:num_requests_running", **labels) == 0
    # Every engine sample names its replica; each family is described once.
    engine = [line for line in text.splitlines() if line.startswith("vllm:")]
    assert engine and all('replica="replica-' in line for line in engine)
    assert text.count("# HELP vllm:generation_tokens_total ") == 1
    # HTTP series stay the gateway's: two completions, no replica label.
    assert sample(text, "http_requests_total", handler="/v1/completions") == 2
    assert 'http_requests_total{' in text and "replica" not in text.split("http_requests_total{")[1].split("}")[0]  # fmt: skip


async def test_each_replica_also_serves_its_own_v1_and_metrics():
    app = _app({"replicas": 2, "router": "round-robin"})
    apps = dict(replica_apps(app))
    assert list(apps) == ["replica-0", "replica-1"]
    served = {"replica-0": 0, "replica-1": 0}
    async with in_process(app):
        for name, max_tokens in (("replica-1", 3), ("replica-1", 4), ("replica-0", 6)):
            transport = httpx.ASGITransport(app=apps[name])
            async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
                body = {"model": "llama-3-8b", "prompt": "hi", "max_tokens": max_tokens}
                reply = await client.post("/v1/completions", json=body)
                assert reply.json()["usage"]["completion_tokens"] == max_tokens
                own = (await client.get("/metrics")).text
                served[name] += max_tokens
                assert sample(own, "vllm:generation_tokens_total") == served[name]
                assert sample(own, "http_requests_total", handler="/v1/completions") >= 1
        # Sent to a replica's own port: no router decision, each engine served its own.
        assert not app.state.gateway.transport.decisions
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://f") as client:  # fmt: skip
            fleet = (await client.get("/metrics")).text
        assert served == {"replica-0": 6, "replica-1": 3 + 4}
        assert sample(fleet, "vllm:generation_tokens_total", replica="replica-1") == 7
        assert sample(fleet, "vllm:generation_tokens_total", replica="replica-0") == 6


def test_replica_ports_without_a_cluster_is_one_line():
    from llmemu.cli.serve import _replica_servers

    settings = ServeSettings(model="llama-3-8b", system="h100x1", replica_ports=9001)
    with pytest.raises(ConfigError, match="^--replica-ports: the scenario serves one replica"):
        _replica_servers(create_app(settings), settings)
