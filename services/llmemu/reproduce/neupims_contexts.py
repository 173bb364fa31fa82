"""Per-request contexts of NeuPIMs' steady-state batches, sampled from the authors' snapshots.

`neupims_contexts.csv` holds every request of six snapshots written by the authors' trace
generator (trace-generator/get_distributions.py; files from datasets/dataset-generator/traces
in the orbizzz/NeuPIMs mirror of casys-kaist/NeuPIMs, GPT-3 7B, TP 4, `clb`): ShareGPT
(`share-gpt2`) batch 512 snapshots 0 and 5 and batch 64 snapshot 0 (1,088 requests, 333,400
tokens, mean 306.4, 2048 the cap); Alpaca batch 512 snapshots 0 and 5 and batch 128 snapshot 0
(1,152 requests, 70,802 tokens, mean 61.5). Columns: dataset, snapshot, seq_len (the context
the request attends to), ch_idx (the channel the authors' generator gave it; not used here).

A snapshot is `batch` requests in flight in a steady state, each drawn independently from the
dataset and caught at a uniformly random point of its generation; so a batch of any size is
drawn here as `batch` contexts sampled with replacement from the pooled snapshots of its
dataset, seeded by (dataset, batch, sample). The paper prices ten sampled batches per
configuration (papers.md 3.3): SAMPLES.
"""

from __future__ import annotations

import csv
import random
from functools import cache
from pathlib import Path

SAMPLES = 10
_FILE = Path(__file__).with_name("neupims_contexts.csv")


@cache
def pool(dataset: str) -> tuple[int, ...]:
    """Every snapshot context of `dataset` ('sharegpt' or 'alpaca')."""
    with _FILE.open(newline="") as f:
        return tuple(int(r["seq_len"]) for r in csv.DictReader(f) if r["dataset"] == dataset)


def sampled_batch(dataset: str, batch: int, sample: int) -> tuple[int, ...]:
    """Contexts of the `sample`-th sampled batch of `batch` requests (deterministic)."""
    rng = random.Random(f"neupims-{dataset}-{batch}-{sample}")
    return tuple(rng.choices(pool(dataset), k=batch))
