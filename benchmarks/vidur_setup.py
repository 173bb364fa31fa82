"""Lay out the profiling data Vidur 0.0.26 needs for sim_speed's case (b), offline.

Vidur 0.0.26 reads its profiling tables as Hugging Face datasets (snapshot_download of
`--..._model_profiling_dataset` and `--..._network_profiling_dataset`, each with a
config.json and mlp/attention/all_reduce/send_recv .csv.xz). With HF_HUB_OFFLINE=1 it
takes them from its cache, `DIR/.vidur_cache/profiling_data/`; this script fills that cache
from a Vidur checkout's data/ folder (the layout of its repository, commit 7d47513):

- mlp.csv: data/profiling/compute/a100/codellama/CodeLlama-34b-Instruct-hf/mlp.csv
  (Vidur's measured GEMM and element-wise kernels, every TP degree);
- all_reduce.csv, send_recv.csv: data/profiling/network/a100_pairwise_nvlink/ (measured);
- attention.csv: Vidur keeps it in Git LFS and no copy reachable here has its content, so it
  is written from a roofline of the A100 (ATTENTION_* below), on the grid of Vidur's own
  profiler (vidur/profiling/utils), thinned. Its values change the simulated times a little,
  not what one Vidur iteration costs to simulate: Vidur looks every prediction up in a table.

Usage: python benchmarks/vidur_setup.py --vidur-dir DIR
Then run Vidur from DIR with HF_HUB_OFFLINE=1 and the dataset names in VIDUR_DATASETS.
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
from pathlib import Path

MODEL = "codellama/CodeLlama-34b-Instruct-hf"
NETWORK = "a100_pairwise_nvlink"
COMPUTE_DATASET = "llmemu-offline/vidur-a100-codellama-34b"
NETWORK_DATASET = "llmemu-offline/vidur-a100-pairwise-nvlink"
VIDUR_DATASETS = [
    "--random_forrest_execution_time_predictor_config_model_profiling_dataset", COMPUTE_DATASET,
    "--random_forrest_execution_time_predictor_config_network_profiling_dataset", NETWORK_DATASET,
]  # fmt: skip
SNAPSHOT = "0" * 40  # any commit id: the offline cache only needs refs/main to name it

# CodeLlama-34B (tests/data/codellama-34b-config.json): hidden 8192, 64 query heads, 8 KV.
N_EMBD, N_Q_HEAD, N_KV_HEAD, HEAD_DIM, BLOCK_SIZE, MAX_LEN = 8192, 64, 8, 128, 16, 16384
# A100 80GB, from llmemu's preset core/presets/devices/a100.yaml: 312 TFLOP/s FP16 at the
# Vidur GEMM fit's 0.743, 2.0 TB/s HBM at 0.821 (NanoFlow Table 2), 6.4 us per kernel.
ATTENTION_FLOPS = 312.0e12 * 0.743
ATTENTION_BYTES_PER_S = 2.0e12 * 0.821
ATTENTION_OVERHEAD_S = 6.4e-6
TP_DEGREES = (1, 2, 4, 8)


def attention_ms(tp: int, chunk: int, kv: int, batch: int) -> float:
    """One layer's attention on one GPU: a prefill chunk of `chunk` tokens after `kv`
    cached ones (causal), or `batch` decodes each over `kv` cached tokens; FP16."""
    q_heads, kv_heads = N_Q_HEAD // tp, N_KV_HEAD // tp
    if chunk:
        flops = 4 * chunk * (kv + (chunk + 1) / 2) * HEAD_DIM * q_heads
        moved = 2 * (kv + chunk) * kv_heads * HEAD_DIM * 2 + 2 * chunk * q_heads * HEAD_DIM * 2
    else:
        flops = 4 * batch * kv * HEAD_DIM * q_heads
        moved = 2 * batch * kv * kv_heads * HEAD_DIM * 2 + 2 * batch * q_heads * HEAD_DIM * 2
    seconds = max(flops / ATTENTION_FLOPS, moved / ATTENTION_BYTES_PER_S) + ATTENTION_OVERHEAD_S
    return seconds * 1e3


def attention_rows() -> list[tuple[int, int, int, int]]:
    """(tp, chunk, kv, batch): Vidur's profiler grid (chunks 32-4096 with the KV sizes before
    them; decodes of 1-128 requests) at every TP degree, thinned to keep training short."""
    chunks = [32, 64, 128, 256, 512, 1024, 1536, 2048, 3072, 4096]
    kvs = [16, 64, 256, 512, 1024, 2048, 3072, 4096, 6144, 8192, 12288, 16384]
    batches = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 80, 96, 112, 128]
    rows = []
    for tp in TP_DEGREES:
        for chunk in chunks:
            rows += [(tp, chunk, kv, 1) for kv in range(0, MAX_LEN - chunk + 1, max(chunk, 512))]
        rows += [(tp, 0, kv, b) for kv in kvs for b in batches]
    return rows


def attention_csv() -> str:
    out = io.StringIO()
    out.write(
        "time_stats.attn_prefill.median,time_stats.attn_decode.median,n_embd,n_q_head,"
        "n_kv_head,block_size,num_tensor_parallel_workers,max_model_len,batch_size,"
        "prefill_chunk_size,kv_cache_size,is_prefill,attention_backend\n"
    )
    for tp, chunk, kv, batch in attention_rows():
        ms = attention_ms(tp, chunk, kv, batch)
        prefill, decode = (f"{ms:.6f}", "") if chunk else ("", f"{ms:.6f}")
        out.write(
            f"{prefill},{decode},{N_EMBD},{N_Q_HEAD},{N_KV_HEAD},{BLOCK_SIZE},{tp},{MAX_LEN},"
            f"{batch},{chunk},{kv},{bool(chunk)},ROOFLINE_A100\n"
        )
    return out.getvalue()


def write_dataset(cache: Path, name: str, config: dict, files: dict[str, str]) -> Path:
    """A Hugging Face hub cache entry for dataset `name` holding `files` (name: CSV text)."""
    root = cache / f"datasets--{name.replace('/', '--')}"
    snapshot = root / "snapshots" / SNAPSHOT
    snapshot.mkdir(parents=True, exist_ok=True)
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(SNAPSHOT)
    (snapshot / "config.json").write_text(json.dumps(config))
    for file_name, text in files.items():
        (snapshot / f"{file_name}.xz").write_bytes(lzma.compress(text.encode()))
    return snapshot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vidur-dir", required=True, type=Path, help="a Vidur checkout")
    args = parser.parse_args()
    data = args.vidur_dir / "data" / "profiling"
    mlp = data / "compute" / "a100" / MODEL / "mlp.csv"
    network = data / "network" / NETWORK
    for path in (mlp, network / "all_reduce.csv", network / "send_recv.csv"):
        if not path.is_file() or path.stat().st_size == 0:
            raise SystemExit(f"{path}: missing or empty; give --vidur-dir a Vidur checkout "
                             "with its data/ folder (git lfs pull if it holds LFS pointers)")  # fmt: skip
    cache = args.vidur_dir / ".vidur_cache" / "profiling_data"
    compute = write_dataset(
        cache / "compute",
        COMPUTE_DATASET,
        {"model": MODEL, "device_sku": "a100"},
        {"mlp.csv": mlp.read_text(), "attention.csv": attention_csv()},
    )
    net = write_dataset(
        cache / "network",
        NETWORK_DATASET,
        {"sku": NETWORK},
        {name: (network / name).read_text() for name in ("all_reduce.csv", "send_recv.csv")},
    )
    print(f"wrote {compute} and {net}")


if __name__ == "__main__":
    main()
