"""`/dashboard`: one self-contained page (inline SVG and script, nothing fetched from
elsewhere) that polls `/dashboard/data` every second. The data is the server's own state,
read from its metrics registry by DashboardSampler."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from prometheus_client import CollectorRegistry

from llmemu.service.dashboard.state import DashboardSampler


def install_dashboard(app: FastAPI, registry: CollectorRegistry, clock, emulation) -> None:
    sampler = DashboardSampler(registry, clock.now)
    page = files("llmemu.service.dashboard").joinpath("dashboard.html").read_text()
    header = {
        "model": emulation.served_model_name,
        "system": emulation.loaded.system.name,
        "tensor_parallel": emulation.loaded.system.tensor_parallel,
        "speed": clock.speed,
    }
    app.state.dashboard = sampler

    @app.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/dashboard/data", include_in_schema=False)
    async def dashboard_data() -> dict:
        return {**header, **sampler.data()}
