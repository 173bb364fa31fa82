"""The hand-rendered SSE chunks are exactly vLLM's (ecosystem.md section 1.5) and parse as
the pydantic chunk types of protocol/openai.py."""

from __future__ import annotations

import json

from llmemu.protocol.openai import ChatCompletionChunk, CompletionChunk
from llmemu.service.api.sse import ChunkFormat, usage_json

CHAT = ChunkFormat(chat=True, rid="chatcmpl-X", created=7, model="M")
TEXT = ChunkFormat(chat=False, rid="cmpl-X", created=7, model="M")
HEAD = '{"id":"chatcmpl-X","object":"chat.completion.chunk","created":7,"model":"M","choices":'


def payload(event: str) -> dict:
    assert event.startswith("data: ") and event.endswith("\n\n")
    return json.loads(event[6:])


def test_chat_chunks_match_vllm_byte_for_byte():
    assert CHAT.role(0) == f'data: {HEAD}[{{"index":0,"delta":{{"role":"assistant","content":""}},"logprobs":null,"finish_reason":null}}]}}\n\n'  # fmt: skip
    assert CHAT.content(0, " Hello", None) == f'data: {HEAD}[{{"index":0,"delta":{{"content":" Hello"}},"logprobs":null,"finish_reason":null}}]}}\n\n'  # fmt: skip
    assert CHAT.content(0, "!", "length") == f'data: {HEAD}[{{"index":0,"delta":{{"content":"!"}},"logprobs":null,"finish_reason":"length","stop_reason":null}}]}}\n\n'  # fmt: skip
    assert CHAT.usage(usage_json(12, 2)) == f'data: {HEAD}[],"usage":{{"prompt_tokens":12,"total_tokens":14,"completion_tokens":2}}}}\n\n'  # fmt: skip


def test_every_chunk_parses_as_its_pydantic_type():
    usage = usage_json(3, 1)
    for event in (CHAT.role(1, usage), CHAT.content(0, 'a "quoted"\nline', None, usage), CHAT.content(2, " x", "stop"), CHAT.usage(usage)):  # fmt: skip
        ChatCompletionChunk.model_validate(payload(event))
    for event in (TEXT.content(0, " y", None), TEXT.content(0, " z", "length", usage), TEXT.usage(usage)):  # fmt: skip
        chunk = CompletionChunk.model_validate(payload(event))
        assert chunk.object == "text_completion"
    assert payload(CHAT.content(0, 'a "quoted"\nline', None))["choices"][0]["delta"]["content"] == 'a "quoted"\nline'  # fmt: skip


def test_completion_token_chunk_matches_vllm_byte_for_byte():
    head = '{"id":"cmpl-X","object":"text_completion","created":7,"model":"M","choices":'
    assert TEXT.content(3, " y", None) == f'data: {head}[{{"index":3,"text":" y","logprobs":null,"finish_reason":null,"stop_reason":null}}]}}\n\n'  # fmt: skip
    assert TEXT.content(0, " z", "stop", None, "END") == f'data: {head}[{{"index":0,"text":" z","logprobs":null,"finish_reason":"stop","stop_reason":"END"}}]}}\n\n'  # fmt: skip


def test_token_text_is_escaped_as_json_dumps_escapes_it():
    # Non-ASCII as \u escapes (json.dumps's ensure_ascii), quotes, backslash and control.
    for text in (" café", 'say "hi"', "back\\slash", "tab\there", "\u2028"):
        event = CHAT.content(1, text, None)
        assert json.dumps(text) in event
        assert payload(event)["choices"][0]["delta"]["content"] == text
