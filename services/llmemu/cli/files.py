"""The CLI's edge: read scenario files and the files they point at, build core objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from llmemu.cli.reading import CONFIG_BYTES, DATA_BYTES, SCENARIO_BYTES, read_text, regular_file
from llmemu.core import presets
from llmemu.core.catalog import load_system
from llmemu.core.data_limits import check_tree, load_yaml
from llmemu.core.errors import ConfigError
from llmemu.core.scenario import ScenarioSpec, apply_overrides, parse_scenario
from llmemu.core.simulate import Workload, materialise
from llmemu.core.specs.dtypes import dtype_update
from llmemu.core.specs.loading import load_model
from llmemu.core.specs.model import ModelSpec
from llmemu.core.specs.system import SystemSpec
from llmemu.core.system_policy import with_system_policy
from llmemu.core.workload import MAX_SPAN_S, MAX_TOKENS, parse_length_rows


@dataclass
class Loaded:
    spec: ScenarioSpec
    model: ModelSpec
    system: SystemSpec
    base_dir: Path
    policy_from_system: tuple[str, ...] = ()
    """Policy keys the system preset supplied because the scenario did not set them."""

    def workload(self) -> Workload:
        wl = self.spec.workload
        if wl is None:
            raise ConfigError(
                "scenario has no workload: it is for `llmemu serve`, where clients bring the "
                "load; to simulate it, add workload: {requests, arrival, input_tokens, "
                "output_tokens} (as in examples/llama3-8b-h100.yaml)"
            )
        rows = trace = None
        if wl.lengths is not None:
            path = self._path(wl.lengths.path, "workload.lengths.path")
            rows = parse_length_rows(read_text(path, "workload.lengths.path", DATA_BYTES), str(path))  # fmt: skip
        if wl.trace is not None:
            trace = read_trace(self._path(wl.trace, "workload.trace"), "workload.trace")
        return materialise(
            wl, self.spec.seed, rows=rows, trace=trace, max_context=self.model.max_context
        )

    def _path(self, name: str, field: str) -> Path:
        """A data file the scenario names (relative to the scenario's folder): a regular
        file under the data limit, so that whoever opens it cannot block on a FIFO or read
        /dev/zero for ever."""
        path = Path(name)
        path = path if path.is_absolute() else self.base_dir / path
        return regular_file(path, field, DATA_BYTES)


def read_yaml(path: Path) -> Any:
    text = read_text(path, "scenario file", SCENARIO_BYTES)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}; fix the syntax") from None
    except ValueError:  # an integer of over 4300 digits
        raise ConfigError(f"{path}: a number too long to read; fix the value") from None
    except RecursionError:
        raise ConfigError(f"{path}: values nested too deeply; flatten the document") from None
    check_tree(data, str(path))
    return data


def read_trace(path: Path, what: str = "trace") -> np.ndarray:
    lines = read_text(path, what, DATA_BYTES).splitlines()
    rows = _trace_rows(lines) or _trace_rows_by_line(path, lines)
    if not rows:
        raise ConfigError(f"{path}: the trace is empty")
    trace = np.array(rows, dtype=np.float64)
    bad = ~np.isfinite(trace[:, 0]) | (trace[:, 0] < 0) | (trace[:, 0] > MAX_SPAN_S)
    bad |= (trace[:, 1:] < 0).any(axis=1) | (trace[:, 1:] > MAX_TOKENS).any(axis=1)
    if bad.any():
        line = int(np.argmax(bad)) + 1
        raise ConfigError(
            f"{path}: row {line}: arrival_s must be a finite time in [0, {MAX_SPAN_S:g}] s and token "
            f"counts in [0, {MAX_TOKENS}]"
        )
    return trace[np.argsort(trace[:, 0], kind="stable")]  # a trace need not be sorted


def _trace_rows(lines: list[str]) -> list[tuple[float, int, int]] | None:
    """Every row at once (one JSON document of the lines); None when a line is not one
    JSON record with the three fields, for `_trace_rows_by_line` to say which."""
    records = [line for line in lines if line.strip()]
    try:
        parsed = json.loads("[" + ",".join(records) + "]")
        if len(parsed) != len(records):  # a line holding two values
            return None
        return [
            (float(r["arrival_s"]), int(r["input_tokens"]), int(r["output_tokens"])) for r in parsed
        ]
    except (ValueError, KeyError, TypeError):
        return None


def _trace_rows_by_line(path: Path, lines: list[str]) -> list[tuple[float, int, int]]:
    rows = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            rows.append(
                (float(rec["arrival_s"]), int(rec["input_tokens"]), int(rec["output_tokens"]))
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{path}:{i}: each line needs arrival_s, input_tokens, output_tokens ({exc})"
            ) from None
    return rows


def model_folder_config(ref: str, base_dir: Path) -> Path | None:
    """The config.json a --model string points at (the file, or a folder holding one), if it
    names an existing path; a preset's own name is never read as a path."""
    if ref in presets.names("models"):
        return None
    path = Path(ref).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"model: folder {ref!r} has no config.json; give the model's folder or its config.json")  # fmt: skip
        return path / "config.json"
    return path if path.is_file() else None


def resolve_model(
    ref: str | dict[str, Any],
    base_dir: Path,
    dtype: str | None = None,
    kv_dtype: str | None = None,
) -> ModelSpec:
    """A preset name, a Hugging Face id a preset lists, a config.json path or model folder
    (a local path wins over an id, as in vLLM), or a scenario's model mapping."""
    config = model_folder_config(ref, base_dir) if isinstance(ref, str) else None
    if config is not None:
        ref = {"hf_config": str(config)}
    if isinstance(ref, dict) and isinstance(ref.get("hf_config"), str):
        path = Path(ref["hf_config"])
        path = path if path.is_absolute() else base_dir / path
        try:
            config = json.loads(read_text(path, "model.hf_config", CONFIG_BYTES))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
        except RecursionError:
            raise ConfigError(f"{path}: JSON nested too deeply") from None
        check_tree(config, str(path))
        ref = {
            "hf_config": config,
            "name": ref.get("name") or path.parent.name or path.stem,
            "path": str(path),
        }
    update = dtype_update(dtype, kv_dtype)
    return load_model(ref).model_copy(update=update) if update else load_model(ref)


def load_scenario_data(data: Any, base_dir: Path, overrides: list[str], source: str) -> Loaded:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with model, system and workload keys")
    data, from_system = with_system_policy(apply_overrides(data, overrides))
    spec = parse_scenario(data, source)
    model = resolve_model(spec.model, base_dir, spec.dtype, spec.kv_dtype)
    system = load_system(spec.system)
    return Loaded(spec, model, system, base_dir, from_system)


def load_scenario(path: str, overrides: list[str]) -> Loaded:
    p = Path(path)
    return load_scenario_data(read_yaml(p), p.parent, overrides, str(p))
