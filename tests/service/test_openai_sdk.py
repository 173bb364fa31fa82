"""The openai Python SDK against `llmemu serve` on a real port: 60 requests of every kind the
SDK makes (completions, chat, streaming with usage, non-streaming), zero errors, usage that
matches what was asked for, and the SDK's own exception types for our errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from serve_helpers import MODEL, make_app, served

from llmemu.service.text.tokenizer import BuiltinTokenizer

TOK = BuiltinTokenizer()


def _chat_stream(client: openai.OpenAI, i: int) -> tuple[int, int]:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": f"request {i}: the model"}],
        max_completion_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        usage = chunk.usage or usage
    assert usage is not None and usage.completion_tokens == 8
    assert TOK.count("".join(pieces)) == 8  # a client re-counting the text agrees
    return 1, 0


def _chat(client: openai.OpenAI, i: int) -> tuple[int, int]:
    r = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": " the"}], max_tokens=4, seed=i
    )
    assert r.choices[0].message.role == "assistant"
    assert r.usage.completion_tokens <= 4
    return 1, 0


def _completion(client: openai.OpenAI, i: int) -> tuple[int, int]:
    r = client.completions.create(model=MODEL, prompt=" the model", max_tokens=5, extra_body={"ignore_eos": True})  # fmt: skip
    assert r.usage.prompt_tokens == 2 and r.usage.completion_tokens == 5
    return 1, 0


def _one(url: str, i: int) -> tuple[int, int]:
    client = openai.OpenAI(base_url=url + "/v1", api_key="EMPTY", max_retries=0)
    kind = (_chat_stream, _chat, _completion)[i % 3]
    try:
        return kind(client, i)
    except openai.OpenAIError:
        return 0, 1


def test_sixty_sdk_requests_complete_without_error():
    with served(make_app(speed=20)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="EMPTY", max_retries=0)
        assert [m.id for m in client.models.list().data] == [MODEL]
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: _one(url, i), range(60)))
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    assert (ok, errors) == (60, 0)


def test_sdk_raises_its_own_error_types():
    with served(make_app(speed=20)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="EMPTY", max_retries=0)
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])  # fmt: skip
        with pytest.raises(openai.BadRequestError) as too_long:
            client.completions.create(model=MODEL, prompt=" the" * 9000, max_tokens=1)
    assert missing.value.status_code == 404 and missing.value.body["param"] == "model"
    assert "maximum context length is 8192 tokens" in too_long.value.body["message"]
