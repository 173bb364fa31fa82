"""Stop strings. An answer's words are drawn before it is generated, so where a stop string
first appears is known up front: the answer ends with the token that completes it
(finish_reason "stop", stop_reason the string, as vLLM reports), its text is cut where the
string begins, and every token's text is cut to match, so a stream never shows part of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from llmemu.service.text.lengths import Draw


def apply_stop(draw: Draw, stops: list[str], word_text: Callable[[int], str]) -> Draw:
    stops = [s for s in stops if s]
    if not stops:
        return draw
    text, ends = "", []
    for k, token in enumerate(draw.token_ids):
        start = len(text)
        text += word_text(token)
        ends.append(len(text))
        hits = [(text.find(s, max(0, start - len(s) + 1)), s) for s in stops]
        hits = [(pos, s) for pos, s in hits if pos >= 0]
        if hits:
            cut, stop = min(hits)
            bounds = [0, *ends]
            pieces = tuple(text[min(a, cut) : min(b, cut)] for a, b in zip(bounds, bounds[1:], strict=False))  # fmt: skip
            ids = draw.token_ids[: k + 1]
            return replace(draw, output_tokens=k + 1, finish_reason="stop", token_ids=ids, pieces=pieces, stop_reason=stop)  # fmt: skip
    return draw
