"""`/dashboard`: one self-contained page (inline SVG and script, nothing fetched from
elsewhere) that loads the history held by the server (`/dashboard/data`), then polls every
second for what is newer (`?since=T`). The data is the server's own state, read from its
metric objects by DashboardSampler."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from llmemu.service.dashboard.state import Collectors, DashboardSampler


def install_dashboard(app: FastAPI, source: Collectors, clock, emulation) -> DashboardSampler:
    """The page and its data; the caller starts and stops the sampler with the server."""
    sampler = DashboardSampler(source, clock.now)
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
    async def dashboard_data(since: float | None = None) -> dict:
        return {**header, **sampler.data(since)}

    return sampler
