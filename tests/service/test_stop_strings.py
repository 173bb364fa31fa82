"""Stop strings: the answer ends with the token that completes the string, its text is cut
where the string begins (every streamed piece too), finish_reason "stop", stop_reason the
string, as vLLM reports them."""

from __future__ import annotations

import pytest
from serve_helpers import in_process, make_app, sse_events

from llmemu.service.text.lengths import Draw
from llmemu.service.text.stops import apply_stop

WORDS = {1: " ab", 2: " cd", 3: " ef", 4: " gh"}
DRAW = Draw(4, "length", [1, 2, 3, 4])
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_a_stop_spanning_two_tokens_ends_the_answer_at_the_second():
    # " ab cd ef": "d e" starts at index 5, inside " cd", and is complete with " ef"
    cut = apply_stop(DRAW, ["zz", "d e"], WORDS.__getitem__)
    assert (cut.output_tokens, cut.finish_reason, cut.stop_reason) == (3, "stop", "d e")
    assert cut.token_ids == [1, 2, 3]
    assert cut.pieces == (" ab", " c", "")


def test_the_stop_completed_first_wins_over_one_that_starts_first():
    # " ab cd ef gh": " ab cd ef" starts at 0 but is complete only with " ef" (index 9);
    # "b c" starts at 2 and is complete with " cd" (index 5, inside " cd"'s [3, 6)).
    cut = apply_stop(DRAW, [" ab cd ef", "b c"], WORDS.__getitem__)
    assert (cut.output_tokens, cut.stop_reason, cut.pieces) == (2, "b c", (" a", ""))


def test_no_stop_found_changes_nothing():
    assert apply_stop(DRAW, ["x", ""], WORDS.__getitem__) is DRAW


async def test_stop_over_http_streaming_and_not():
    body = {"prompt": " the", "max_tokens": 6, "seed": 11}
    async with in_process(make_app()) as c:
        free = (await c.post("/v1/completions", json=body)).json()["choices"][0]["text"]
        second = free.split(" ")[2]  # text is " w1 w2 ...": [0] is ""
        stopped = (await c.post("/v1/completions", json=body | {"stop": [" " + second]})).json()
        events = sse_events((await c.post("/v1/completions", json=body | {"stop": " " + second, "stream": True})).text)  # fmt: skip
    choice = stopped["choices"][0]
    first = " " + free.split(" ")[1]
    assert (choice["text"], choice["finish_reason"], choice["stop_reason"]) == (first, "stop", " " + second)  # fmt: skip
    assert stopped["usage"]["completion_tokens"] == 2
    chunks = [e for e in events if e != "[DONE]"]
    assert "".join(e["choices"][0]["text"] for e in chunks) == first
    assert chunks[-1]["choices"][0]["stop_reason"] == " " + second
