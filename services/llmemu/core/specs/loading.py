"""Resolve a model reference from a scenario or the CLI into a validated ModelSpec.

Accepted forms (no I/O beyond the package's own preset files):

- ``"llama-2-7b"``: a preset name (``core/presets/models/<name>.yaml``);
- ``"meta-llama/Llama-2-7b-hf"``: a Hugging Face id that a preset lists in its ``hf_ids``
  (any letter case), which gives that preset;
- ``{"hf_config": {...}, "name": "my-model", "path": "config.json"}``: a Hugging Face
  ``config.json`` the caller already parsed; ``path`` is optional and only used in messages;
- ``{"preset": "llama-2-7b", "dtype_bytes": 4}``: a preset with some fields overridden
  (e.g. TPI-LLM runs in FP32);
- ``{"name": ..., "num_layers": ..., ...}``: a full ModelSpec written inline.

Every invalid input raises ConfigError naming the field and where to fix it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import ValidationError

from llmemu.core import presets
from llmemu.core.errors import ConfigError
from llmemu.core.specs.hf_config import from_hf_config
from llmemu.core.specs.model import ModelSpec

_HF_KEYS = frozenset({"hf_config", "name", "path"})
CATALOG_KEYS = ("hf_ids",)
"""Preset keys about where a model is found, not its shape: not ModelSpec fields."""


def _preset_file(name: str) -> str:
    return f"services/llmemu/core/presets/models/{name}.yaml"


def validation_message(exc: ValidationError, where: str) -> str:
    """One line naming each invalid field of a ModelSpec."""
    problems = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        problems.append(
            f"invalid field {field!r}: {msg}" if field else f"inconsistent fields: {msg}"
        )
    return f"{where}: {'; '.join(problems)}"


def spec_from_fields(fields: dict[str, Any], where: str) -> ModelSpec:
    """ModelSpec from plain fields; pydantic errors become ConfigError naming the field."""
    try:
        return ModelSpec(**fields)
    except ValidationError as exc:
        raise ConfigError(validation_message(exc, where)) from None


def preset_fields(name: str) -> dict[str, Any]:
    """A model preset's ModelSpec fields (its catalog keys left out)."""
    return {k: v for k, v in presets.raw("models", name).items() if k not in CATALOG_KEYS}


@cache
def hf_id_presets() -> dict[str, str]:
    """Lower-cased Hugging Face id -> the model preset that lists it."""
    out: dict[str, str] = {}
    for name in presets.names("models"):
        for hf_id in presets.raw("models", name).get("hf_ids", ()):
            if hf_id.lower() in out:
                raise ConfigError(f"model presets {out[hf_id.lower()]} and {name} both list hf_ids {hf_id!r}; keep it in one")  # fmt: skip
            out[hf_id.lower()] = name
    return out


def preset_name(ref: str) -> str | None:
    """The preset a --model string names: a preset's own name or one of its hf_ids."""
    if ref in presets.names("models"):
        return ref
    return hf_id_presets().get(ref.lower())


def load_preset(name: str) -> ModelSpec:
    """The named model preset (or the preset a Hugging Face id maps to), validated."""
    preset = preset_name(name)
    if preset is None:
        raise ConfigError(
            f"unknown model {name!r}: give a preset ({', '.join(presets.names('models'))}), "
            "a Hugging Face id a preset lists (e.g. meta-llama/Meta-Llama-3-8B-Instruct), "
            "or a path to a config.json or to a model folder holding one"
        )
    return spec_from_fields(preset_fields(preset), f"model preset {_preset_file(preset)}")


def _from_hf(spec: dict[str, Any]) -> ModelSpec:
    unknown = sorted(set(spec) - _HF_KEYS)
    if unknown:
        raise ConfigError(
            f"model: unknown key(s) {', '.join(map(repr, unknown))} next to 'hf_config'; "
            f"allowed: {', '.join(sorted(_HF_KEYS))}"
        )
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError("model: 'hf_config' needs a 'name' string (the model's display name)")
    config = spec["hf_config"]
    if not isinstance(config, dict):
        raise ConfigError(
            f"model {name!r}: 'hf_config' must be the parsed config.json object, "
            f"got {type(config).__name__}"
        )
    return from_hf_config(config, name, path=spec.get("path"))


def load_model(spec: str | dict[str, Any]) -> ModelSpec:
    """A ModelSpec from a preset name or a dict (see the module docstring for the forms)."""
    if isinstance(spec, str):
        return load_preset(spec)
    if not isinstance(spec, dict):
        raise ConfigError(
            f"model: expected a preset name or a mapping, got {type(spec).__name__}; "
            f"valid presets: {', '.join(presets.names('models'))}"
        )
    if "hf_config" in spec:
        return _from_hf(spec)
    if "preset" in spec:
        base = spec["preset"]
        if not isinstance(base, str):
            raise ConfigError(f"model: 'preset' must be a preset name, got {base!r}")
        fields = {**preset_fields(base), **{k: v for k, v in spec.items() if k != "preset"}}
        return spec_from_fields(fields, f"model preset {base!r} with overrides")
    return spec_from_fields(spec, f"inline model {spec.get('name', '(unnamed)')!r}")
