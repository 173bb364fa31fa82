"""The core is pure: no web framework, event loop, metrics library, environment or wall clock."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "services" / "llmemu" / "core"
FORBIDDEN_IMPORTS = {
    "fastapi",
    "starlette",
    "uvicorn",
    "asyncio",
    "prometheus_client",
    "redis",
    "httpx",
}
FORBIDDEN_CALLS = {
    ("os", "environ"),
    ("os", "getenv"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("datetime", "now"),
}


def test_core_imports_no_io_framework_and_reads_no_clock_or_environment():
    offenders = []
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "").split(".")[0]]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if (node.value.id, node.attr) in FORBIDDEN_CALLS:
                    offenders.append(f"{path.name}: {node.value.id}.{node.attr}")
                continue
            else:
                continue
            offenders += [f"{path.name}: import {n}" for n in names if n in FORBIDDEN_IMPORTS]
    assert offenders == []
