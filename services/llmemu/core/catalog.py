"""Build device and system specs from presets or inline mappings.

`<device>x<N>` systems (h100x4, a100-40gx1, ...) are not files: every GPU preset gives them
for N = 1, 2, 4, 8, with the device's own link. Other systems are YAML files; a one-device
system file that names an interconnect also gives `<system>-<N>` (duplex-4, neupims-8): N of
its devices under tensor parallelism. A file of that name, if any, wins (duplex-16 spans nodes).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from llmemu.core import presets
from llmemu.core.errors import ConfigError
from llmemu.core.specs.device import DeviceSpec
from llmemu.core.specs.system import SystemSpec

_REPLICATED = re.compile(r"^(?P<device>.+)x(?P<count>1|2|4|8)$")
_SCALED = re.compile(r"^(?P<base>.+)-(?P<count>1|2|4|8)$")
REPLICA_COUNTS = (1, 2, 4, 8)


def validated(cls, data: dict[str, Any], what: str):
    """Construct a pydantic spec; its errors become one ConfigError naming the field."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or what
        raise ConfigError(f"{what}: field {field!r}: {err['msg']}") from None


def load_device(spec: str | dict[str, Any]) -> DeviceSpec:
    """A device from a preset name or an inline mapping."""
    data = presets.raw("devices", spec) if isinstance(spec, str) else dict(spec)
    return validated(DeviceSpec, data, f"device {data.get('name', '?')!r}")


def _is_gpu(name: str) -> bool:
    return name in presets.names("devices") and presets.raw("devices", name).get("kind") == "gpu"


def _gpu_names() -> list[str]:
    return [n for n in presets.names("devices") if _is_gpu(n)]


def system_names() -> list[str]:
    """Every system preset name: files, replicated GPU systems and scaled one-device systems."""
    replicated = [f"{d}x{n}" for d in _gpu_names() for n in REPLICA_COUNTS]
    scaled = [f"{s}-{n}" for s in _scalable_names() for n in REPLICA_COUNTS]
    return sorted(set(presets.names("systems")) | set(replicated) | set(scaled))


def _scalable_names() -> list[str]:
    """System files of one device with an interconnect: they scale to `<name>-<N>`."""
    return [n for n in presets.names("systems") if _is_scalable(n)]


def _is_scalable(name: str) -> bool:
    if name not in presets.names("systems"):
        return False
    data = presets.raw("systems", name)
    return data.get("tensor_parallel", 1) == 1 and bool(data.get("interconnect"))


def _scaled(name: str) -> dict[str, Any] | None:
    match = _SCALED.match(name)
    if not match or not _is_scalable(match["base"]):
        return None
    base = presets.raw("systems", match["base"])
    count = int(match["count"])
    source = f"{count} x {match['base']} under tensor parallelism; {base.get('source', '')}"
    return {**base, "name": name, "tensor_parallel": count, "source": source}


def _replicated(name: str) -> dict[str, Any] | None:
    match = _REPLICATED.match(name)
    if not match or not _is_gpu(match["device"]):
        return None
    device = presets.raw("devices", match["device"])
    return {
        "name": name,
        "tensor_parallel": int(match["count"]),
        "processors": [{"name": match["device"], "device": match["device"]}],
        "interconnect": {
            "bytes_per_s": device["link_bytes_per_s"],
            "latency_s": device.get("link_latency_s", 0.0),
        },
        "source": f"{match['count']} x {match['device']} under tensor parallelism",
    }


def _system_data(spec: str | dict[str, Any]) -> dict[str, Any]:
    if not isinstance(spec, str):
        return dict(spec)
    data = None if spec in presets.names("systems") else _replicated(spec) or _scaled(spec)
    if data is None:
        if spec not in presets.names("systems"):
            valid = ", ".join(system_names())
            raise ConfigError(f"unknown system preset {spec!r}; choose one of: {valid}")
        data = presets.raw("systems", spec)
    return dict(data)


def system_policy(spec: Any) -> dict[str, Any]:
    """The policy a system carries (`policy:` in its file; `<system>-<N>` has its base's);
    empty for an unknown or malformed system, which load_system reports."""
    if not isinstance(spec, str | dict):
        return {}
    try:
        policy = _system_data(spec).get("policy") or {}
    except ConfigError:
        return {}
    return dict(policy) if isinstance(policy, dict) else {}


def load_system(spec: str | dict[str, Any]) -> SystemSpec:
    """A system from a preset name or an inline mapping (processors name device presets).
    Its `policy` is not part of the hardware: with_system_policy applies it to the scenario."""
    data = _system_data(spec)
    data.pop("policy", None)
    what = f"system {data.get('name', '?')!r}"
    processors = data.get("processors", [])
    if not isinstance(processors, list):
        raise ConfigError(f"{what}: processors must be a list of {{name, device}} mappings")
    for i, p in enumerate(processors):
        if not isinstance(p, dict) or not isinstance(p.get("device"), str | dict):
            raise ConfigError(f"{what}: processors[{i}] needs a device: a preset name or a mapping")
    data["processors"] = [{**p, "device": load_device(p["device"])} for p in processors]
    return validated(SystemSpec, data, what)
