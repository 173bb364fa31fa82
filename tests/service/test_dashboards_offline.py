"""Dashboards and Prometheus files without a running deployment: promtool parses every query
and the config, the Grafana dashboard model loads every dashboard, build.py is reproducible."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess

import pytest
import yaml
from promql_sources import OURS, REPO, VLLM, dashboard_queries

needs_promtool = pytest.mark.skipif(not shutil.which("promtool"), reason="needs promtool (scripts/ci-system-deps.sh)")  # fmt: skip


@needs_promtool
def test_every_dashboard_query_passes_promtool_check_rules(tmp_path):
    queries = dashboard_queries("llama-3-8b")
    rules = [
        {"record": f"dashboard:query_{i}:check", "expr": q} for i, (_, q) in enumerate(queries)
    ]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    out = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(rules)} rules found" in out.stdout


@needs_promtool
def test_prometheus_config_and_rules_pass_promtool():
    out = subprocess.run(["promtool", "check", "config", str(REPO / "dashboards" / "prometheus.yml")], capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 4 rules found" in out.stdout  # dashboards/rules.yml, through rule_files


def test_dashboards_load_with_the_grafana_dashboard_model():
    from grafana_foundation_sdk.models.dashboard import Dashboard

    assert len(OURS) == 3 and len(VLLM) == 4
    for path in OURS + VLLM:
        raw = json.loads(path.read_text())
        model = Dashboard.from_json(raw)
        assert model.title == raw["title"]
        assert len(model.panels) == len(raw["panels"])
        assert model.templating.list_val, f"{path.name}: no template variables"


def test_our_dashboards_are_what_build_py_writes():
    spec = importlib.util.spec_from_file_location("build_dashboards", REPO / "dashboards" / "build.py")  # fmt: skip
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for name, builder in build.BUILDERS.items():
        assert (REPO / "dashboards" / "grafana" / name).read_text() == build.render(builder), name
