"""The completion routes called without the router (service/api/hot_routes.py): the same
answers, errors and HTTP metrics as through the router, and everything else left to it."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from serve_helpers import in_process, make_app, sample

from llmemu.service.api.hot_routes import HotRoutes, route_hot


def small_app() -> tuple[FastAPI, list[str]]:
    app, router_saw = FastAPI(), []

    @app.post("/hot")
    async def hot(request: Request) -> JSONResponse:
        return JSONResponse({"body": (await request.body()).decode()})

    @app.post("/cold")
    async def cold(request: Request) -> JSONResponse:
        return JSONResponse({"cold": True})

    route_hot(app, {"/hot": hot})
    stack: HotRoutes = app.router.middleware_stack  # type: ignore[assignment]
    inner = stack.app

    async def router(scope, receive, send) -> None:
        router_saw.append(f"{scope['method']} {scope['path']}")
        await inner(scope, receive, send)

    stack.app = router
    return app, router_saw


async def ask(app: FastAPI, method: str, path: str, **kw) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path, **kw)


def test_a_post_to_a_hot_path_skips_the_router_and_the_rest_reach_it():
    app, router_saw = small_app()
    assert asyncio.run(ask(app, "POST", "/hot", content=b"abc")).json() == {"body": "abc"}
    assert router_saw == []
    assert asyncio.run(ask(app, "POST", "/cold")).json() == {"cold": True}
    assert asyncio.run(ask(app, "GET", "/hot")).status_code == 405
    assert asyncio.run(ask(app, "POST", "/hot/", follow_redirects=False)).status_code == 307
    assert router_saw == ["POST /cold", "GET /hot", "POST /hot/"]


def test_only_the_endpoint_registered_for_the_path_may_be_hot():
    app = FastAPI()

    @app.post("/a")
    async def a(request: Request) -> JSONResponse:
        return JSONResponse({})

    async def other(request: Request) -> JSONResponse:
        return JSONResponse({})

    with pytest.raises(ValueError, match="/a: not the endpoint registered for POST"):
        route_hot(app, {"/a": other})
    with pytest.raises(ValueError, match="/b: not the endpoint registered for POST"):
        route_hot(app, {"/b": a})


ERRORS = [
    ("/v1/chat/completions", {"content": b"{", "headers": {"content-type": "application/json"}}),
    ("/v1/chat/completions", {"json": {"messages": []}}),
    (
        "/v1/chat/completions",
        {"content": b'{"messages": [{"role": "user", "content": "\\ud800"}]}'},
    ),
    ("/v1/completions", {"json": {"model": "x", "prompt": "hi"}}),
    ("/v1/completions", {"json": {"prompt": "hi", "n": 0}}),
    ("/v1/completions", {"json": {"prompt": "hi", "max_tokens": 1_000_000}}),
]


async def answers(hot: bool) -> tuple[list[httpx.Response], str]:
    app = make_app()
    if not hot:  # the router's own stack, as before route_hot
        app.router.middleware_stack = app.router.middleware_stack.app
    async with in_process(app) as client:
        out = [await client.post(path, **kw) for path, kw in ERRORS]
        out.append(await client.post("/v1/completions", json={"prompt": "hi", "max_tokens": 2}))
        metrics = (await client.get("/metrics")).text
    return out, metrics


def test_errors_and_http_metrics_are_those_of_the_routed_request():
    (*hot_errors, ok), metrics = asyncio.run(answers(hot=True))
    routed_errors, _ = asyncio.run(answers(hot=False))
    for hot, routed in zip(hot_errors, routed_errors, strict=False):
        assert (hot.status_code, hot.headers.raw, hot.content) == (routed.status_code, routed.headers.raw, routed.content)  # fmt: skip
    assert [r.status_code for r in hot_errors] == [400, 400, 400, 404, 400, 400]
    assert ok.status_code == 200 and json.loads(ok.content)["usage"]["completion_tokens"] == 2
    # Three 4xx to chat, three 4xx and one 2xx to completions, named by their routes.
    assert sample(metrics, "http_requests_total", handler="/v1/chat/completions", status="4xx") == 3  # fmt: skip
    assert sample(metrics, "http_requests_total", handler="/v1/completions", status="4xx") == 3
    assert sample(metrics, "http_requests_total", handler="/v1/completions", status="2xx") == 1
