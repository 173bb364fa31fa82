"""Fuzz the request endpoints with hypothesis: bodies that mix valid and invalid fields,
wrong types, junk bytes. No answer may be a 5xx, none may hang, and the server must still
serve a normal request afterwards."""

from __future__ import annotations

import json

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_helpers import MODEL, make_app, served

junk = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8), st.lists(st.integers(), max_size=3))  # fmt: skip
text_part = st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", ""]), "text": st.text(max_size=10)})  # fmt: skip
content = st.one_of(st.text(max_size=40), st.lists(text_part, max_size=3))
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "tool"])},
    optional={"content": st.one_of(content, st.none()), "name": st.text(max_size=5)},
)
prompt = st.one_of(
    st.text(max_size=60),
    st.lists(st.integers(0, 6000), min_size=1, max_size=20),
    st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=3),
    st.lists(st.lists(st.integers(0, 6000), min_size=1, max_size=5), min_size=1, max_size=3),
)
# Valid values, kept small: a valid limit of thousands of tokens would only test patience.
valid = {
    "model": st.just(MODEL),
    "max_tokens": st.integers(1, 12),
    "min_tokens": st.integers(0, 1),
    "n": st.integers(1, 3),
    "stream": st.booleans(),
    "stream_options": st.fixed_dictionaries(
        {}, optional={"include_usage": st.booleans(), "continuous_usage_stats": st.booleans()}
    ),  # fmt: skip
    "temperature": st.floats(0.1, 2),
    "top_p": st.floats(0.01, 1),
    "seed": st.integers(0, 2**63 - 1),
    "stop": st.one_of(st.text(max_size=3), st.lists(st.text(max_size=3), max_size=2)),
    "ignore_eos": st.just(False),  # answers then end after the workload's 8 tokens
    "max_completion_tokens": st.integers(1, 12),
}
# Anything else a client might send in those fields.
wrong = {
    **{k: junk for k in valid},
    "max_tokens": st.one_of(st.integers(-3, 0), st.integers(10**5, 10**12), junk),
    "n": st.one_of(st.integers(-2, 0), st.integers(300, 10**6), junk),
    "temperature": st.one_of(st.floats(allow_nan=True), junk),
    "seed": st.one_of(st.integers(-(2**70), 2**70), junk),
}


def bodies(required: dict) -> st.SearchStrategy:
    """Valid bodies, bodies with one field made wrong, and bodies of arbitrary fields."""
    fields = {**required, **valid}
    good = st.fixed_dictionaries(required, optional=valid)
    one_wrong = st.tuples(good, st.sampled_from(sorted(fields))).flatmap(
        lambda pair: wrong.get(pair[1], junk).map(lambda v: {**pair[0], pair[1]: v})
    )
    anything = st.fixed_dictionaries({}, optional={**fields, "unknown_field": junk})
    return st.one_of(good, one_wrong, anything)


request = st.one_of(
    st.tuples(st.just("/v1/completions"), bodies({"prompt": prompt})),
    st.tuples(
        st.just("/v1/chat/completions"),
        bodies({"messages": st.lists(message, min_size=1, max_size=3)}),
    ),  # fmt: skip
    st.tuples(
        st.sampled_from(["/tokenize", "/detokenize"]),
        st.dictionaries(
            st.sampled_from(["prompt", "tokens", "messages", "model"]),
            st.one_of(prompt, junk),
            max_size=3,
        ),
    ),  # fmt: skip
    st.tuples(
        st.sampled_from(["/v1/completions", "/v1/chat/completions"]), st.binary(max_size=40)
    ),  # fmt: skip
)


def test_fuzzed_requests_never_5xx_never_hang_and_the_server_still_serves():
    # An output-length distribution of 8 tokens: requests without a limit end quickly.
    eight = ["workload.input_tokens.kind=constant", "workload.input_tokens.value=8",
             "workload.output_tokens.kind=constant", "workload.output_tokens.value=8"]  # fmt: skip
    app = make_app(speed=200, overrides=eight)
    with served(app) as url, httpx.Client(base_url=url, timeout=10) as client:

        @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
        @given(request)
        def fuzz(req):
            path, body = req
            if isinstance(body, bytes):
                r = client.post(path, content=body, headers={"content-type": "application/json"})
            else:
                r = client.post(path, content=json.dumps(body).encode(), headers={"content-type": "application/json"})  # fmt: skip
            assert r.status_code < 500, (path, body, r.status_code, r.text[:300])
            if r.status_code >= 400:
                assert r.json()["error"]["code"] == r.status_code

        fuzz()
        after = client.post("/v1/completions", json={"model": MODEL, "prompt": " the", "max_tokens": 3})  # fmt: skip
        assert after.status_code == 200
        assert after.json()["usage"]["completion_tokens"] == 3
        assert client.get("/health").status_code == 200
