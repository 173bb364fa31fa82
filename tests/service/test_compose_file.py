"""docker-compose.yml against the Compose Specification schema (no Docker engine runs here),
and the topology the issue asks for: health checks and `depends_on` conditions."""

from __future__ import annotations

import json

import jsonschema
import yaml
from promql_sources import REPO


def _compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_file_is_valid_against_the_compose_spec():
    schema = json.loads((REPO / "data" / "schemas" / "compose-spec.json").read_text())
    # The spec names draft-07 by a URL jsonschema does not know; validate with draft 7 itself.
    validator = jsonschema.Draft7Validator(schema)
    errors = [
        f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(_compose())
    ]
    assert not errors, errors


def test_topology_health_checks_and_start_order():
    services = _compose()["services"]
    workers = {"worker-xpu", "worker-pim"} | {f"edge-node-{i}" for i in range(4)}
    expected = {"redis", "gateway", "gateway-edge", "scheduler", "scheduler-edge", "prometheus", "grafana"}  # fmt: skip
    assert set(services) == expected | workers
    assert all("healthcheck" in s for s in services.values())
    deps = services["scheduler"]["depends_on"]
    assert {k: v["condition"] for k, v in deps.items()} == {
        "redis": "service_healthy", "worker-xpu": "service_healthy", "worker-pim": "service_healthy"
    }  # fmt: skip
    assert services["gateway"]["depends_on"]["scheduler"]["condition"] == "service_healthy"
    # Every llmemu service runs the one image; its command chooses the service.
    for name in workers | {"gateway", "gateway-edge", "scheduler", "scheduler-edge"}:
        command = services[name]["command"]
        assert command[0] == "python" and (REPO / command[1]).exists() and (REPO / command[2]).exists()  # fmt: skip


def test_prometheus_scrapes_every_llmemu_service_of_the_compose_file():
    config = yaml.safe_load((REPO / "dashboards" / "prometheus.yml").read_text())
    targets = {t.split(":")[0] for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}  # fmt: skip
    services = set(_compose()["services"]) - {"redis", "prometheus", "grafana"}
    assert targets == services
