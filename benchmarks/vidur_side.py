"""Vidur 0.0.26 on sim_speed's case (b): its command line, and what both sides simulated.

Vidur runs from a checkout (DIR) prepared by benchmarks/vidur_setup.py, offline
(HF_HUB_OFFLINE=1), replaying the request list of benchmarks/vidur_trace.py with its vLLM
scheduler at llmemu's caps. Its execution-time predictor is Vidur's default random forest
with one setting of its grid (250 trees, depth 16, 2 folds) instead of the 27-setting,
10-fold search: training runs once, is cached in DIR/.vidur_cache and is not timed, and the
search would take most of an hour on a 2-core host. Timed runs write no metrics and no
Chrome trace, the least work Vidur can do; the check run writes request metrics.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

from vidur_setup import VIDUR_DATASETS

PREDICTOR = "--random_forrest_execution_time_predictor_config"
VIDUR_ARGS = [
    "--replica_config_device", "a100",
    "--replica_config_network_device", "a100_pairwise_nvlink",
    "--replica_config_model_name", "codellama/CodeLlama-34b-Instruct-hf",
    "--replica_config_tensor_parallel_size", "2",
    "--replica_config_num_pipeline_stages", "1",
    "--cluster_config_num_replicas", "1",
    "--request_generator_config_type", "trace_replay",
    "--trace_request_generator_config_prefill_scale_factor", "1",
    "--trace_request_generator_config_decode_scale_factor", "1",
    "--trace_request_generator_config_time_scale_factor", "1",
    "--trace_request_generator_config_max_tokens", "4096",
    "--replica_scheduler_config_type", "vllm",
    "--vllm_scheduler_config_batch_size_cap", "128",
    "--vllm_scheduler_config_max_tokens_in_batch", "4096",
    f"{PREDICTOR}_prediction_max_tokens_per_request", "4096",
    f"{PREDICTOR}_prediction_max_batch_size", "128",
    f"{PREDICTOR}_prediction_max_prefill_chunk_size", "4096",
    f"{PREDICTOR}_num_estimators", "250",
    f"{PREDICTOR}_max_depth", "16",
    f"{PREDICTOR}_min_samples_split", "2",
    f"{PREDICTOR}_k_fold_cv_splits", "2",
    *VIDUR_DATASETS,
]  # fmt: skip
QUIET = ["--no-metrics_config_write_metrics", "--no-metrics_config_enable_chrome_trace"]
ENDED = re.compile(r"Simulation ended at: ([0-9.eE+-]+)s")


def command(python: str, trace_csv: Path, metrics_dir: Path | None = None) -> list[str]:
    """Timed runs (no metrics_dir) write nothing; a check run writes request metrics."""
    out = QUIET
    if metrics_dir is not None:
        out = [
            "--metrics_config_write_metrics", "--metrics_config_output_dir", str(metrics_dir),
            "--no-metrics_config_store_plots", "--no-metrics_config_enable_chrome_trace",
            "--no-metrics_config_store_batch_metrics",
            "--no-metrics_config_store_utilization_metrics",
        ]  # fmt: skip
    trace = ["--trace_request_generator_config_trace_file", str(trace_csv)]
    return [python, "-m", "vidur.main", *VIDUR_ARGS, *trace, *out]


def environment() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1"}


def makespan_s(log: str) -> float:
    found = ENDED.findall(log)
    if not found:
        raise SystemExit("Vidur printed no 'Simulation ended at'; its log:\n" + log[-2000:])
    return float(found[-1])


def vidur_totals(metrics_dir: Path, log: str) -> tuple[int, int, int, float]:
    """(requests, prompt tokens, output tokens, makespan s) from Vidur's request metrics."""
    (path,) = metrics_dir.glob("*/request_metrics.csv")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    prompt = sum(int(float(r["request_num_prefill_tokens"])) for r in rows)
    output = sum(int(float(r["request_num_decode_tokens"])) for r in rows)
    return len(rows), prompt, output, makespan_s(log)


def llmemu_totals(requests_csv: Path) -> tuple[int, int, int, float]:
    """The same four from llmemu's `simulate --requests-out` file."""
    with requests_csv.open() as f:
        rows = list(csv.DictReader(f))
    prompt = sum(int(r["prompt_tokens"]) for r in rows)
    output = sum(int(r["generated"]) for r in rows)
    return len(rows), prompt, output, max(float(r["finish_s"]) for r in rows)
