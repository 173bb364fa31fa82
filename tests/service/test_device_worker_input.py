"""The device worker's /v1/execute refuses what it cannot price, in the OpenAI envelope and
before any counter moves: an unknown op kind, numbers that are not finite or absurdly large,
another processor's ops. Its busy-time counter stays finite."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import pytest
from serve_helpers import sample

from llmemu.service.distributed.device_worker import create_worker_app
from llmemu.service.distributed.settings import WorkerSettings

pytestmark = pytest.mark.anyio
SCENARIO = "examples/serve-duplex-llama3-8b.yaml"
GEMM = {"name": "qkv", "kind": "gemm", "flops": 1e9, "bytes": 1e6}


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _body(**op) -> dict:
    return {"iteration": 0, "processor": "h100", "ops": [{**GEMM, **op}]}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (_body(kind="teleport"), "body.ops.0.kind"),
        (_body(flops=float("inf")), "body.ops.0.flops"),
        (_body(bytes=1e31), "body.ops.0.bytes"),
        (_body(layers=10**9), "body.ops.0.layers"),
        ({**_body(), "kv_bytes": -1}, "body.kv_bytes"),
        ({**_body(), "processor": "tpu"}, "processor"),
    ],
)
async def test_execute_refuses_what_it_cannot_price(body, param):
    repo = Path(__file__).resolve().parents[2]
    app = create_worker_app(WorkerSettings(scenario=str(repo / SCENARIO), processor="h100"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w") as c:
        # 1e400 is not JSON a client library writes; send it as text, as an attacker would.
        raw = json.dumps(body).replace("Infinity", "1e400").encode()
        r = await c.post("/v1/execute", content=raw, headers={"content-type": "application/json"})  # fmt: skip
        ok = await c.post("/v1/execute", json=_body())
        metrics = (await c.get("/metrics")).text
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 400 and r.json()["error"]["param"] == param
    assert ok.status_code == 200
    busy = sample(metrics, "llmemu_device_busy_seconds_total")
    assert 0 < busy < 1 and math.isfinite(busy)  # one GEMM of 1 GFLOP: far under a second
