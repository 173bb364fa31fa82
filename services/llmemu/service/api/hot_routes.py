"""The completion routes reached without the router's search.

Every request of a serving benchmark is a POST to /v1/chat/completions or /v1/completions,
and each took ~0.1 ms of the event loop between the router and the handler: the router
tries the routes in order (the documentation pages' first), then FastAPI's per-route
layers (a Request, two exit stacks, an exception wrapper, dependency solving for the one
`Request` parameter) run. `HotRoutes` sits at the router's entry and calls those two
endpoints itself. Everything outside the router is unchanged (error handlers, limits, the
HTTP metrics, which name the route by its own matching); an endpoint's exceptions reach
the same handlers one layer out, in ExceptionMiddleware, as FastAPI's route wrapper would
have called. Any other method or path, or an app mounted under a prefix, goes to the
router as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response

from llmemu.service.api.middleware import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class HotRoutes:
    def __init__(self, app: ASGIApp, router, endpoints: dict[str, Endpoint]) -> None:
        self.app = app
        self.router = router
        self.endpoints = endpoints
        """POST path -> the endpoint the router would choose for it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                scope.setdefault("router", self.router)  # as the router sets it (url_for)
                response = await endpoint(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def route_hot(app: FastAPI, endpoints: dict[str, Endpoint]) -> None:
    """Serve POSTs to `endpoints`' paths without the router; each must be the endpoint
    registered for that path and method, taking only the Request."""
    registered: dict[tuple[str, str], object] = {}
    for route in app.routes:  # the first route of a path and method is the one matched
        for method in getattr(route, "methods", None) or ():
            registered.setdefault((route.path, method), route.endpoint)
    for path, endpoint in endpoints.items():
        if registered.get((path, "POST")) is not endpoint:
            raise ValueError(f"{path}: not the endpoint registered for POST")
    router = app.router
    router.middleware_stack = HotRoutes(router.middleware_stack, router, endpoints)
