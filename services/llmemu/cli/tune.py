"""`llmemu tune SCENARIO`: search a NanoFlow pipeline (nano-batch count and sizes, shares)
for the scenario's model, system, dense batch (policy.max_num_batched_tokens) and lengths,
and print it with its predicted throughput and the policy.options that select it."""

from __future__ import annotations

import argparse
import json

from llmemu.cli.argtypes import positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    """search a NanoFlow pipeline (nano-batches, unit shares) for a scenario"""
    p.add_argument("scenario", help="scenario YAML file (its workload gives the mean lengths)")
    p.add_argument(
        "--evaluations", type=positive_int, default=2000, help="pipelines to time at most"
    )
    p.add_argument("--budget-s", type=float, default=40.0, help="wall-clock limit of the search")
    p.add_argument("--seed", type=int, default=0, help="seed of the random restarts")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    import time

    import yaml

    from llmemu.cli.files import load_scenario
    from llmemu.cli.progress import Activity
    from llmemu.core.nanoflow.tune import as_options, tune

    loaded = load_scenario(args.scenario, args.set)
    workload = loaded.workload()
    started = time.perf_counter()
    searching = Activity.budget("tune: timing NanoFlow pipelines", args.budget_s)

    def stop() -> bool:
        searching.tick()
        return time.perf_counter() - started > args.budget_s

    with searching:
        tuned = tune(
            loaded.model,
            loaded.system,
            loaded.spec.policy,
            float(workload.inputs.mean()),
            float(workload.outputs.mean()),
            max_evaluations=args.evaluations,
            stop=stop,
            seed=args.seed,
        )
    report = _report(loaded, tuned, as_options(tuned.spec))
    report["search_wall_s"] = time.perf_counter() - started
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(_render(report))
    print("policy.options (paste under policy: in the scenario, with batching: nanoflow):")
    text = yaml.safe_dump({"options": report["options"]}, sort_keys=False, default_flow_style=None)
    print("\n".join("  " + line for line in text.splitlines()))
    return 0


def _report(loaded, tuned, options) -> dict:
    rate = tuned.tokens_per_s_per_device
    return {
        "model": loaded.model.name,
        "system": loaded.system.name,
        "devices": tuned.devices,
        "batches": [
            {
                "share_of_iterations": share,
                "tokens": b.num_tokens,
                "decodes": b.num_decode,
                "mean_decode_context": b.decode_context / b.num_decode if b.num_decode else 0.0,
                "prompt_tokens": b.num_tokens - b.num_decode,
            }
            for b, share in tuned.mix
        ],
        "options": options,
        "iteration_s": tuned.iteration_s,
        "tokens_per_s_per_device": rate(tuned.iteration_s),
        "default_iteration_s": tuned.default_s,
        "default_tokens_per_s_per_device": rate(tuned.default_s),
        "sequential_iteration_s": tuned.sequential_s,
        "sequential_tokens_per_s_per_device": rate(tuned.sequential_s),
        "optimal_tokens_per_s_per_device": tuned.optimal_tokens_per_s_per_device,
        "evaluated": tuned.evaluated,
    }


def _render(r: dict) -> str:
    o = r["options"]
    pieces = "; ".join(f"{n} {'/'.join(map(str, s))}" for n, s in o.get("splits", {}).items())
    shares = ", ".join(f"{n} {v}" for n, v in o["shares"].items())
    seq = r["sequential_tokens_per_s_per_device"]
    return "\n".join(
        [
            f"{r['model']} on {r['system']} ({r['devices']} devices), the batches of its offline run:",
            *(
                f"  {b['share_of_iterations']:4.0%} of iterations: {b['tokens']} tokens = "
                f"{b['decodes']} decodes (mean context {b['mean_decode_context']:.0f}) "
                f"+ {b['prompt_tokens']} prompt tokens"
                for b in r["batches"]
            ),
            f"searched {r['evaluated']} pipelines in {r['search_wall_s']:.1f} s",
            f"nano-batches {'/'.join(map(str, o['nano_batches']))}"
            + (f"; finer pieces: {pieces}" if pieces else "")
            + f"; order {o['order']}",
            f"shares       {shares}",
            f"tuned        {r['iteration_s'] * 1e3:8.1f} ms/iteration "
            f"{r['tokens_per_s_per_device']:7.0f} tokens/s/device "
            f"(x{r['tokens_per_s_per_device'] / seq:.3f} over sequential)",
            f"default      {r['default_iteration_s'] * 1e3:8.1f} ms/iteration "
            f"{r['default_tokens_per_s_per_device']:7.0f} tokens/s/device",
            f"sequential   {r['sequential_iteration_s'] * 1e3:8.1f} ms/iteration {seq:7.0f} tokens/s/device",
            f"optimal      Compute/(2P) = {r['optimal_tokens_per_s_per_device']:.0f} tokens/s/device",
        ]
    )


COMMAND = (add_arguments, run)
