"""The claims table as text: paper, emulated, relative error, accepted band."""

from __future__ import annotations

from llmemu.reproduce import Claim, Options


def _num(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


def render(experiment: str, options: Options, claims: list[Claim]) -> str:
    rates = "peak rates, no overheads" if options.ideal else "the presets' efficiencies"
    grid = "reduced grid (--quick)" if options.quick else "full sweep"
    width = max(len(c.claim) for c in claims)
    head = f"{'claim':<{width}}  {'paper':>7}  {'emulated':>8}  {'error':>7}  {'accepted':>13}  ok"
    lines = [f"llmemu reproduce {experiment}: {grid}, {rates}", "", head, "-" * len(head)]
    for c in claims:
        err = "-" if c.rel_error is None else f"{c.rel_error:+.1%}"
        accepted = "-" if c.low is None else f"[{c.low:.2f}, {c.high:.2f}]"
        ok = {None: "", True: "yes", False: "NO"}[c.within]
        lines.append(
            f"{c.claim:<{width}}  {_num(c.paper, c.unit):>7}  {_num(c.emulated, c.unit):>8}  "
            f"{err:>7}  {accepted:>13}  {ok}".rstrip()
        )
        if c.note:
            lines.append(f"{'':<4}{c.note}")
    missed = [c for c in claims if c.within is False]
    matched = [c for c in claims if c.within]
    lines += ["", f"{len(matched)} of {len(matched) + len(missed)} claims within their band"]
    return "\n".join(lines)
