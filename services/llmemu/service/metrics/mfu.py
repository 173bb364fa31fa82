"""vLLM's MFU series (`--enable-mfu-metrics`), read at scrape time: estimated FLOPs, bytes read
and bytes written per GPU, which the emulator knows exactly from the plan (LlmemuMetrics'
sums; each op's `write_bytes` is the part of its traffic that is output: GEMM results,
attention outputs, reduced all-reduce chunks).

Registered next to ServingMetrics by whatever runs the engine (the embedded server, the
distributed scheduler), once per process."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from llmemu.service.metrics.llmemu import LlmemuMetrics
from llmemu.service.metrics.vllm import LABELS


class MfuCollector:
    def __init__(self, own: LlmemuMetrics, model_name: str, devices: int) -> None:
        self.own, self.base, self.devices = own, [model_name, "0"], devices

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        moved = sum(self.own.bytes.values())
        written = sum(self.own.write_bytes.values())
        for name, doc, total in (
            ("vllm:estimated_flops_per_gpu", "Estimated floating-point operations per GPU.", sum(self.own.flops.values())),
            ("vllm:estimated_read_bytes_per_gpu", "Estimated bytes read from memory per GPU.", moved - written),
            ("vllm:estimated_write_bytes_per_gpu", "Estimated bytes written to memory per GPU.", written),
        ):  # fmt: skip
            family = CounterMetricFamily(name, doc, labels=list(LABELS))
            family.add_metric(self.base, total / self.devices)
            yield family
