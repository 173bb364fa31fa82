"""The OpenAI API as vLLM serves it, in-process over httpx.ASGITransport.

Token counts are worked out by hand from the built-in vocabulary: a vocabulary word with
its leading space (" the", " model") is one token; text without merges (a word that does
not start with a space, punctuation, newline) is one token per byte."""

from __future__ import annotations

import pytest
from serve_helpers import MODEL, in_process, make_app, sample, sse_events

pytestmark = pytest.mark.anyio

# "user: " + content + "\nassistant:" -> u s e r : (5) + content + \n (1) + a s s i s t a n t : (10)
CHAT_OVERHEAD = 5


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_models_lists_the_served_name_and_context():
    app = make_app(served_model_name="my-llama")
    async with in_process(app) as c:
        data = (await c.get("/v1/models")).json()["data"]
    assert [m["id"] for m in data] == ["my-llama"]
    assert data[0]["root"] == MODEL
    assert data[0]["max_model_len"] == 8192  # llama-3-8b's context; the H100's KV holds more


async def test_completion_counts_prompt_and_honours_max_tokens():
    async with in_process(make_app()) as c:
        r = await c.post("/v1/completions", json={"model": MODEL, "prompt": " the model", "max_tokens": 7, "ignore_eos": True})  # fmt: skip
    body = r.json()
    assert r.status_code == 200
    assert body["object"] == "text_completion"
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 7, "total_tokens": 9, "prompt_tokens_details": None}  # fmt: skip
    assert body["choices"][0]["finish_reason"] == "length"
    assert len(body["choices"][0]["text"].split(" ")) == 8  # 7 words, each after a space


async def test_completions_default_to_16_tokens_without_a_workload():
    async with in_process(make_app()) as c:
        r = await c.post("/v1/completions", json={"prompt": "Hello"})
    assert r.json()["usage"]["prompt_tokens"] == 1  # "Hello" is one cl100k_base token (9906)
    assert r.json()["usage"]["completion_tokens"] == 16


async def test_chat_stream_has_role_first_finish_last_usage_and_done():
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": " the model"}]}],
        "max_completion_tokens": 3,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with in_process(make_app()) as c:
        r = await c.post("/v1/chat/completions", json=body)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    role, *content, usage = events[:-1]
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [e["choices"][0]["finish_reason"] for e in content] == [None, None, "length"]
    assert all("usage" not in e for e in [role, *content])
    assert usage["choices"] == []
    # " the model" is 2 tokens, plus the template's 5 (user : \n assistant :)
    prompt = 2 + CHAT_OVERHEAD + 1  # the content's own space follows "user: " -> a lone "Ġ"
    assert usage["usage"] == {"prompt_tokens": prompt, "total_tokens": prompt + 3, "completion_tokens": 3}  # fmt: skip


async def test_continuous_usage_is_cumulative_on_every_chunk():
    body = {"prompt": " the", "max_tokens": 2, "stream": True,
            "stream_options": {"include_usage": True, "continuous_usage_stats": True}}  # fmt: skip
    async with in_process(make_app()) as c:
        events = sse_events((await c.post("/v1/completions", json=body)).text)
    completions = [e["usage"]["completion_tokens"] for e in events[:-1]]
    assert completions == [1, 2, 2]  # two text chunks, then the usage chunk


async def test_token_id_prompts_batches_and_n():
    async with in_process(make_app()) as c:
        ids = (await c.post("/v1/completions", json={"prompt": [1, 2, 3], "max_tokens": 2})).json()
        batch = (await c.post("/v1/completions", json={"prompt": [" the", " the model"], "n": 2, "max_tokens": 2})).json()  # fmt: skip
    assert ids["usage"]["prompt_tokens"] == 3
    assert [ch["index"] for ch in batch["choices"]] == [0, 1, 2, 3]
    assert batch["usage"]["prompt_tokens"] == 1 + 2  # each prompt counted once
    assert batch["usage"]["completion_tokens"] == 4 * 2


async def test_generated_text_retokenizes_to_completion_tokens():
    app = make_app()
    async with in_process(app) as c:
        r = await c.post("/v1/completions", json={"prompt": " the", "max_tokens": 50, "seed": 7})
        text = r.json()["choices"][0]["text"]
        count = (await c.post("/tokenize", json={"prompt": text})).json()["count"]
    assert count == r.json()["usage"]["completion_tokens"] == 50


async def test_same_seed_same_text():
    async with in_process(make_app()) as c:
        a, b = [
            (
                await c.post("/v1/completions", json={"prompt": " the", "max_tokens": 5, "seed": 3})
            ).json()  # fmt: skip
            for _ in range(2)
        ]
    assert a["choices"][0]["text"] == b["choices"][0]["text"]


async def test_tokenize_and_detokenize_round_trip():
    async with in_process(make_app()) as c:
        tok = (await c.post("/tokenize", json={"model": MODEL, "prompt": " the model"})).json()
        text = (await c.post("/detokenize", json={"tokens": tok["tokens"]})).json()["prompt"]
    assert tok["count"] == 2 and tok["token_strs"] == ["Ġthe", "Ġmodel"]
    assert tok["max_model_len"] == 8192
    assert text == " the model"


async def test_admin_endpoints():
    async with in_process(make_app()) as c:
        assert (await c.get("/health")).status_code == 200
        assert (await c.get("/health")).content == b""
        assert "version" in (await c.get("/version")).json()
        assert (await c.get("/load")).json() == {"server_load": 0}
        head = await c.head("/metrics")
        get = await c.get("/metrics/")
    assert head.status_code == 200 and head.content == b""
    assert get.status_code == 200 and "vllm:num_requests_running" in get.text


async def test_metrics_count_tokens_and_requests():
    app = make_app()
    async with in_process(app) as c:
        for _ in range(3):
            await c.post("/v1/completions", json={"prompt": " the model", "max_tokens": 4})
        text = (await c.get("/metrics")).text
    labels = {"model_name": MODEL, "engine": "0"}
    assert sample(text, "vllm:request_success_total", finished_reason="length", **labels) == 3
    assert sample(text, "vllm:prompt_tokens_total", **labels) == 3 * 2
    assert sample(text, "vllm:generation_tokens_total", **labels) == 3 * 4
    assert sample(text, "vllm:time_to_first_token_seconds_count", **labels) == 3
    assert sample(text, "vllm:inter_token_latency_seconds_count", **labels) == 3 * 3
    assert sample(text, "vllm:request_params_max_tokens_sum", **labels) == 3 * 4
    assert sample(text, "http_requests_total", handler="/v1/completions", status="2xx") == 3
    assert sample(text, "llmemu_pacing_speed", **labels) == 50
    assert sample(text, "llmemu_device_busy_seconds_total", processor="h100") > 0
    assert sample(text, "vllm:kv_cache_usage_perc", **labels) == 0  # everything finished
