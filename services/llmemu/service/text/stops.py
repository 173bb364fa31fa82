"""Stop strings. An answer's words are drawn before it is generated, so where a stop string
first appears is known up front: the answer ends with the token that completes it
(finish_reason "stop", stop_reason the string, as vLLM reports), its text is cut where the
string begins, and every token's text is cut to match, so a stream never shows part of it.

The answer's text is built once and each stop string searched in it once (`str.find`, in C):
the cost is stops x text, where checking every stop again after every token would be
stops x tokens x text (10,000 stops on 2,000 tokens held the server for 13 s).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import replace
from itertools import accumulate

from llmemu.service.text.lengths import Draw


def apply_stop(draw: Draw, stops: list[str], word_text: Callable[[int], str]) -> Draw:
    stops = [s for s in stops if s]
    if not stops:
        return draw
    words = [word_text(t) for t in draw.token_ids]
    text = "".join(words)
    ends = list(accumulate(len(w) for w in words))
    found = [(pos, s) for s in stops if (pos := text.find(s)) >= 0]
    if not found:
        return draw
    # The first token that completes any stop string; of the strings it completes, the one
    # that starts first is cut at (a string's first occurrence is also where it ends first).
    k = bisect_left(ends, min(pos + len(s) for pos, s in found))
    cut, stop = min((pos, s) for pos, s in found if pos + len(s) <= ends[k])
    bounds = [0, *ends[: k + 1]]
    pieces = tuple(text[min(a, cut) : min(b, cut)] for a, b in zip(bounds, bounds[1:], strict=False))  # fmt: skip
    ids = draw.token_ids[: k + 1]
    return replace(draw, output_tokens=k + 1, finish_reason="stop", token_ids=ids, pieces=pieces, stop_reason=stop)  # fmt: skip
