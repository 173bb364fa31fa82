"""What every distributed service reads first: the scenario, exactly as `llmemu serve` reads
it, and the Emulation built from it (the gateway needs its limits, the scheduler its engine)."""

from __future__ import annotations

from pathlib import Path

from llmemu.cli.files import Loaded, load_scenario, load_scenario_data
from llmemu.core.errors import ConfigError
from llmemu.service.api.settings import ServeSettings
from llmemu.service.live.emulation import Emulation, build_emulation


def load_scenario_from(settings) -> Loaded:
    if settings.scenario:
        return load_scenario(settings.scenario, settings.overrides)
    if settings.model and settings.system:
        data = {"model": settings.model, "system": settings.system}
        return load_scenario_data(data, Path.cwd(), settings.overrides, "settings")
    raise ConfigError("give a scenario file, or both model and system (e.g. LLMEMU_*_SCENARIO)")


def emulation_from(settings) -> Emulation:
    """The embedded server's Emulation for the same scenario, seed and served model name."""
    serve = ServeSettings(
        speed=settings.speed,
        served_model_name=settings.served_model_name,
        seed=settings.seed,
    )
    return build_emulation(load_scenario_from(settings), serve)
