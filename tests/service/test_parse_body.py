"""parse_body's fast path (pydantic's JSON parser, small bodies) against json.loads and
model_validate: where the fast path gives a model, the same model; elsewhere the same error."""

from __future__ import annotations

import json

import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import given, settings
from pydantic import ValidationError
from test_serve_fuzz import request

from llmemu.protocol.openai import ChatCompletionRequest, CompletionRequest
from llmemu.service.api.offload import INLINE_BODY_BYTES, parse_body

MODELS = {"/v1/completions": CompletionRequest, "/v1/chat/completions": ChatCompletionRequest}


def by_dict(raw: bytes, model):
    """The model as json.loads and model_validate give it, or None where they refuse it."""
    try:
        return model.model_validate(json.loads(raw))
    except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError too
        return None


def same_outcome(raw: bytes, model) -> None:
    want = by_dict(raw, model)
    if want is None:
        with pytest.raises(RequestValidationError):
            parse_body(raw, model)
        return
    got = parse_body(raw, model)
    assert type(got) is type(want) and repr(got) == repr(want)
    assert got.model_extra == want.model_extra or repr(got.model_extra) == repr(want.model_extra)


@settings(max_examples=300, deadline=None)
@given(request)
def test_fuzzed_bodies_parse_as_json_loads_and_model_validate_do(case):
    path, body = case
    if path in MODELS:  # raw bytes as they come, or a body as JSON
        same_outcome(body if isinstance(body, bytes) else json.dumps(body).encode(), MODELS[path])


CHAT = b'{"messages": [{"role": "user", "content": %s}]%s}'
EDGES = [
    CHAT % (b'"a"', b', "temperature": NaN'),
    CHAT % (b'"a"', b', "temperature": -Infinity'),
    CHAT % (b'"a"', b', "x": 1e400'),
    CHAT % (b'"a"', b', "n": 1, "n": 2'),
    CHAT % (b'"a"', b', "seed": 123456789012345678901234567890'),
    CHAT % (b'"a"', b', "max_completion_tokens": 4.0'),
    CHAT % (b'"a"', b', "max_completion_tokens": "4"'),
    CHAT % (b'"a"', b', "stream": 1'),
    CHAT % (b'"a"', b', "stream": "yes"'),
    CHAT % (b'"\\ud800"', b""),  # a lone surrogate: the field's own 400
    CHAT % (b'"\\ud83d\\ude00"', b""),  # a surrogate pair: one character
    CHAT % (b'"a\nb"', b""),  # a raw control character inside a string
    CHAT % ('"caf\u00e9"'.encode(), b""),
    CHAT % (b'"\xed\xa0\x80"', b""),  # a surrogate encoded in UTF-8
    CHAT % (b'"\xff"', b""),  # not UTF-8
    b"\xef\xbb\xbf" + CHAT % (b'"a"', b""),  # a UTF-8 byte order mark
    (CHAT % (b'"a"', b"")).decode().encode("utf-16"),
    CHAT % (b'"a"', b"") + b" \n",
    CHAT % (b'"a"', b"") + b"x",
    b'{"prompt": [1, 2, 3]}',
    b'{"prompt": ["1", "2"]}',
    b'{"prompt": [[1], [2, 3]]}',
    b'{"prompt": "hi", "stop": ["a", "b"], "logprobs": 2}',
    b"[]",
    b"",
]


@pytest.mark.parametrize("raw", EDGES)
def test_edge_bodies_parse_as_json_loads_and_model_validate_do(raw: bytes):
    model = CompletionRequest if raw.startswith(b'{"prompt"') else ChatCompletionRequest
    same_outcome(raw, model)


def test_a_large_body_takes_json_loads():
    raw = CHAT % (b'"' + b"a" * INLINE_BODY_BYTES + b'"', b', "temperature": NaN')
    assert repr(parse_body(raw, ChatCompletionRequest)) == repr(by_dict(raw, ChatCompletionRequest))
