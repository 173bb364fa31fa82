"""One registry per process, and the part of it a process exposes.

In the distributed deployment every series has one owner: the scheduler owns the engine
series, each device worker its device's, the gateway the HTTP series and pacing lag. A
process builds the same metric objects as the embedded server and exposes only the
families it owns, so a dashboard summing over all targets never counts a thing twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import Metric


def process_registry() -> CollectorRegistry:
    """A registry with the process_* and python_* series vLLM's API server has."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


class RegistryView:
    """The families of `registry` whose name `keep` accepts (anything generate_latest takes)."""

    def __init__(self, registry: CollectorRegistry, keep: Callable[[str], bool]) -> None:
        self.registry = registry
        self.keep = keep

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            if self.keep(family.name):
                yield family


def starts_with_any(prefixes: tuple[str, ...]) -> Callable[[str], bool]:
    return lambda name: name.startswith(prefixes)
