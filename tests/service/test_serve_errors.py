"""Bad input and limits: every error in the `{"error": {...}}` envelope with vLLM's codes and
messages (vllm/entrypoints/openai/protocol.py's ErrorResponse and its serving handlers)."""

from __future__ import annotations

import pytest
from serve_helpers import MODEL, in_process, make_app, sample

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def envelope(r) -> dict:
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == r.status_code
    return body["error"]


async def test_unknown_model_is_404():
    async with in_process(make_app()) as c:
        r = await c.post("/v1/chat/completions", json={"model": "gpt-x", "messages": [{"role": "user", "content": "x"}]})  # fmt: skip
    err = envelope(r)
    assert r.status_code == 404
    assert err == {"message": "The model `gpt-x` does not exist.", "type": "NotFoundError", "param": "model", "code": 404}  # fmt: skip


async def test_validation_error_is_400_with_the_field_path():
    async with in_process(make_app()) as c:
        missing = await c.post("/v1/chat/completions", json={"model": MODEL})
        not_json = await c.post("/v1/completions", content=b"{nope", headers={"content-type": "application/json"})  # fmt: skip
    assert missing.status_code == 400
    assert envelope(missing)["type"] == "Bad Request"
    assert envelope(missing)["param"] == "body.messages"
    assert not_json.status_code == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_tokens": 0}, "max_tokens must be at least 1, got 0."),
        ({"temperature": 2.5}, "temperature must be in [0, 2], got 2.5."),
        ({"top_p": 0}, "top_p must be in (0, 1], got 0.0."),
        ({"n": 2, "temperature": 0}, "n must be 1 when using greedy sampling, got 2."),
        (
            {"max_tokens": 9000},
            "max_tokens=9000 cannot be greater than max_model_len=8192. Please request fewer output tokens.",
        ),  # fmt: skip
        ({"prompt": ""}, "The decoder prompt cannot be empty"),
        ({"prompt": [10**6]}, "Token id 1000000 is out of vocabulary"),
    ],
)
async def test_parameter_errors_are_400_with_vllm_messages(body, message):
    async with in_process(make_app()) as c:
        r = await c.post("/v1/completions", json={"prompt": " the", **body})
    assert r.status_code == 400
    assert envelope(r)["message"].startswith(message)


async def test_prompt_over_the_context_names_both_numbers():
    # 8192 words with a leading space = 8192 tokens = max_model_len: no room for any output
    async with in_process(make_app()) as c:
        r = await c.post("/v1/completions", json={"prompt": " the" * 8192})
    assert r.status_code == 400
    assert envelope(r)["message"].startswith(
        "This model's maximum context length is 8192 tokens. However, your prompt contains "
        "8192 input tokens"
    )


async def test_prompt_plus_max_tokens_over_the_context_clamps_or_errors():
    body = {"prompt": " the" * 8000, "max_tokens": 500, "ignore_eos": True}
    async with in_process(make_app()) as c:
        clamped = (await c.post("/v1/completions", json=body)).json()
    async with in_process(make_app(context_overflow="error")) as c:
        refused = await c.post("/v1/completions", json=body)
    assert clamped["usage"]["completion_tokens"] == 8192 - 8000  # vLLM 0.33 clamps
    assert clamped["choices"][0]["finish_reason"] == "length"
    assert refused.status_code == 400
    assert envelope(refused)["message"] == (
        "This model's maximum context length is 8192 tokens. However, you requested 8500 "
        "tokens (8000 in the messages, 500 in the completion). Please reduce the length of "
        "the messages or completion."
    )


async def test_api_key_is_required_on_v1_only():
    async with in_process(make_app(api_keys=["sekret"])) as c:
        anonymous = await c.get("/v1/models")
        wrong = await c.get("/v1/models", headers={"Authorization": "Bearer nope"})
        right = await c.get("/v1/models", headers={"Authorization": "Bearer sekret"})
        health = await c.get("/health")
    assert anonymous.status_code == wrong.status_code == 401
    assert envelope(anonymous)["type"] == "AuthenticationError"
    assert right.status_code == health.status_code == 200


async def test_body_over_the_limit_is_413():
    async with in_process(make_app(max_body_bytes=1000)) as c:
        r = await c.post("/v1/completions", json={"prompt": "x" * 2000})
        ok = await c.post("/v1/completions", json={"prompt": " the", "max_tokens": 1})
    assert r.status_code == 413
    assert envelope(r)["type"] == "RequestEntityTooLarge"
    assert ok.status_code == 200


async def test_full_waiting_queue_is_429_with_retry_after():
    # max_waiting=0: any request that would wait is refused, and counted as a rejection.
    app = make_app(max_waiting=0, retry_after_s=2)
    async with in_process(app) as c:
        r = await c.post("/v1/completions", json={"prompt": " the", "max_tokens": 1})
        metrics = (await c.get("/metrics")).text
    assert r.status_code == 429
    assert r.headers["retry-after"] == "2"
    assert envelope(r)["type"] == "RateLimitError"
    assert sample(metrics, "vllm:admission_rejections_total", reason="max_num_queued_reqs") == 1


async def test_unknown_route_is_404_in_the_envelope():
    async with in_process(make_app()) as c:
        r = await c.get("/v1/nothing")
    assert r.status_code == 404
    assert envelope(r)["type"] == "NotFoundError"
