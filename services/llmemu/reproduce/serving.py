"""`llmemu validate`: the GPU presets and the engine profile against published serving
throughput (TensorRT-LLM 0.13's table, data/serving/), row by row.

Every row runs as a scenario (serving_rows.py). The summary gives the mean absolute
percentage error (MAPE) over the rows used in fitting, per configuration group (GPU x dtype
x TP), and over the rows kept out of fitting (serving_rows.HELD_OUT), reported separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from llmemu.core.replica import build_replica
from llmemu.core.simulate import materialise, run
from llmemu.reproduce.serving_rows import DATA, HELD_OUT, Row, load_rows, row_scenario

QUICK_REQUESTS = 1024
"""--quick: bursts of at most this many requests (at least one full batch for most rows)."""


@dataclass(frozen=True)
class Scored:
    row: Row
    emulated: float

    @property
    def error(self) -> float:
        return self.emulated / self.row.published - 1

    def as_dict(self) -> dict:
        r = self.row
        return {
            "model": r.model,
            "gpu": r.gpu,
            "dtype": r.dtype,
            "tp": r.tp,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "group": r.group,
            "held_out": r.held_out,
            "published": r.published,
            "emulated": self.emulated,
            "error": self.error,
        }


def emulate(row: Row, requests: int | None = None) -> float:
    """Output tokens per second of the emulated run of one row."""
    model, system, policy, workload = row_scenario(row, requests)
    replica = build_replica(model, system, policy)
    drawn = materialise(workload, 0, max_context=model.max_context)
    result = run(replica, drawn, keep_requests=False)
    return int(result.log.column("generated").sum()) / result.simulated_s


def _emulate(args: tuple[Row, int | None]) -> float:
    return emulate(*args)


def score(rows: Sequence[Row], requests: int | None = None, jobs: int = 1) -> list[Scored]:
    work = [(r, requests) for r in rows]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            values = list(pool.map(_emulate, work))
    else:
        values = [_emulate(w) for w in work]
    return [Scored(r, v) for r, v in zip(rows, values, strict=True)]


def mape(scored: Sequence[Scored]) -> float:
    return sum(abs(s.error) for s in scored) / len(scored) if scored else float("nan")


def summary(scored: Sequence[Scored]) -> dict:
    fitted = [s for s in scored if not s.row.held_out]
    held = [s for s in scored if s.row.held_out]
    groups: dict[str, list[Scored]] = {}
    for s in scored:
        groups.setdefault(s.row.group, []).append(s)
    return {
        "mape_fitted": mape(fitted),
        "mape_all": mape(scored),
        "mape_held_out": mape(held),
        "worst_held_out": max((abs(s.error) for s in held), default=float("nan")),
        "groups": {g: mape(v) for g, v in sorted(groups.items())},
    }


def render(scored: Sequence[Scored], requests: int | None) -> str:
    burst = "as published" if requests is None else f"capped at {requests} (--quick)"
    width = max(len(s.row.label) for s in scored)
    head = f"{'row':<{width}}  {'published':>9}  {'emulated':>9}  {'error':>7}"
    lines = [
        "llmemu validate: TensorRT-LLM 0.13 throughput (output tok/s), engine profile trtllm; "
        f"requests per row {burst}",
        "",
        head,
        "-" * len(head),
    ]
    for s in scored:
        mark = "  held out" if s.row.held_out else ""
        lines.append(
            f"{s.row.label:<{width}}  {s.row.published:>9.0f}  {s.emulated:>9.0f}  "
            f"{s.error:>+7.1%}{mark}"
        )
    summ = summary(scored)
    lines += ["", "MAPE by group (GPU x dtype x TP):"]
    lines += [f"  {g:<16} {v:6.1%}" for g, v in summ["groups"].items()]
    lines += [
        "",
        f"MAPE fitted rows {summ['mape_fitted']:.1%}, all rows {summ['mape_all']:.1%}; "
        f"held-out rows {summ['mape_held_out']:.1%} (worst {summ['worst_held_out']:.1%})",
    ]
    lines += [f"  held out: {' '.join(map(str, k))}: {why}" for k, why in HELD_OUT.items()]
    return "\n".join(lines)


def validate(path: Path = DATA, requests: int | None = None, jobs: int = 1) -> list[Scored]:
    return score(load_rows(path), requests, jobs)
