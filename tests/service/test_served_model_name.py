"""`serve --model <HF id>` serves under the id the user typed, as vLLM does."""

from __future__ import annotations

from serve_helpers import in_process, make_app, run

HF_ID = "meta-llama/Meta-Llama-3-8B-Instruct"


def test_an_hf_id_is_served_under_that_name_with_its_presets_shape():
    app = make_app(model=HF_ID)
    assert app.state.emulation.loaded.model.name == "llama-3-8b"

    async def go():
        async with in_process(app) as c:
            models = (await c.get("/v1/models")).json()["data"]
            r = await c.post("/v1/completions", json={"model": HF_ID, "prompt": "Hello", "max_tokens": 2})  # fmt: skip
            return [m["id"] for m in models], r.status_code, r.json()

    ids, status, body = run(go())
    assert ids == [HF_ID]
    assert status == 200 and body["model"] == HF_ID
    assert body["usage"]["prompt_tokens"] == 1  # "Hello" is one token (cl100k_base id 9906)
