"""vLLM's MFU series (`--enable-mfu-metrics`), read at scrape time: estimated FLOPs and bytes
read per GPU, which the emulator knows exactly from the plan (LlmemuMetrics' sums). Our cost
model does not split traffic into reads and writes: every byte moved is counted as read, and
`vllm:estimated_write_bytes_per_gpu_total` is not exported rather than made up.

Registered next to ServingMetrics by whatever runs the engine (the embedded server, the
distributed scheduler), once per process."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from llmemu.service.metrics_llmemu import LlmemuMetrics
from llmemu.service.metrics_vllm import LABELS


class MfuCollector:
    def __init__(self, own: LlmemuMetrics, model_name: str, devices: int) -> None:
        self.own, self.base, self.devices = own, [model_name, "0"], devices

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        for name, doc, values in (
            (
                "vllm:estimated_flops_per_gpu",
                "Estimated floating-point operations per GPU.",
                self.own.flops,
            ),  # fmt: skip
            (
                "vllm:estimated_read_bytes_per_gpu",
                "Estimated bytes read per GPU (all bytes moved).",
                self.own.bytes,
            ),  # fmt: skip
        ):
            family = CounterMetricFamily(name, doc, labels=list(LABELS))
            family.add_metric(self.base, sum(values.values()) / self.devices)
            yield family
