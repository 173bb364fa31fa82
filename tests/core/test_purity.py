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


def _core_imports(path: Path) -> set[str]:
    """The core modules `path` imports anywhere (module level, functions, TYPE_CHECKING)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("llmemu.core"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("llmemu.core")}
    return found


def test_core_has_no_import_circle():
    """A circle (a imports b, b imports a, even deferred into a function) means the two
    modules are one; the cure is the shared piece in a module of its own (parts.py,
    memory.py)."""
    modules = {}
    for path in CORE.rglob("*.py"):
        rel = path.relative_to(CORE.parent).with_suffix("")
        name = "llmemu." + ".".join(p for p in rel.parts if p != "__init__")
        modules[name] = _core_imports(path)
    circles = []
    for start in modules:
        stack, seen = [(start, (start,))], set()
        while stack:
            mod, trail = stack.pop()
            for dep in modules.get(mod, ()):
                if dep == start:
                    circles.append(" -> ".join((*trail, dep)))
                elif dep not in seen and dep in modules:
                    seen.add(dep)
                    stack.append((dep, (*trail, dep)))
    assert circles == []
