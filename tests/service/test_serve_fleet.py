"""`llmemu serve` of a cluster scenario: one endpoint, a scheduler per replica, the router
registry of the offline fleet picking the replica of each sequence."""

from __future__ import annotations

import asyncio

import pytest
from serve_helpers import in_process, sample

from llmemu.cli.files import load_scenario_data
from llmemu.core.errors import ConfigError
from llmemu.service.api.app import create_app
from llmemu.service.api.settings import ServeSettings
from llmemu.service.live.emulation import build_emulation

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
