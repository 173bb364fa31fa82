"""The OpenAI routes (/v1/completions, /v1/chat/completions, /v1/models, /tokenize,
/detokenize), shared by the embedded server and the distributed gateway.

Each handler reads its body on the event loop and does what grows with the body (parsing,
checks, tokenising, drawing the answers, rendering JSON) on the worker threads when the
body is large (offload.py), where the tokenizer releases the GIL. Admission and the stream
stay on the loop."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from llmemu.protocol.openai import (
    ChatCompletionRequest,
    CompletionRequest,
    DetokenizeRequest,
    ModelCard,
    ModelList,
    TokenizeRequest,
)
from llmemu.service.api.errors import ApiError
from llmemu.service.api.gateway import Gateway
from llmemu.service.api.hot_routes import route_hot
from llmemu.service.api.jobs import (
    COMPLETIONS_DEFAULT_MAX_TOKENS,
    Job,
    build_job,
    chat_prompt,
    check_sampling,
    completion_prompts,
)
from llmemu.service.api.limits import check_messages, check_prompt_chars
from llmemu.service.api.offload import OffLoop, parse_body
from llmemu.service.text.tokenizer import render_chat


def openai_routes(app: FastAPI, settings, emu, gateway: Gateway, tok, sampler, clock, offload: OffLoop) -> None:  # fmt: skip
    max_len = emu.max_model_len
    # A prefix cache keys blocks on token ids: only then are the prompt's ids kept and sent.
    keep_ids = getattr(emu, "prefix_caching", False)
    limits = {"max_model_len": max_len, "overflow": settings.context_overflow, "sampler": sampler, "word_text": tok.word_text}  # fmt: skip

    def completion_prompts_of(raw: bytes) -> tuple[CompletionRequest, list[str | list[int]]]:
        body = parse_body(raw, CompletionRequest)
        gateway.check_model(body.model)
        check_sampling(body)
        return body, completion_prompts(body, max_len, tok.vocab_size)

    def chat_prompts_of(raw: bytes) -> tuple[ChatCompletionRequest, list[str | list[int]]]:
        body = parse_body(raw, ChatCompletionRequest)
        gateway.check_model(body.model)
        check_sampling(body)
        return body, [chat_prompt(body, max_len)]

    def tokens_of(prompts: list[str | list[int]]) -> list[list[int]] | list[int]:
        """The prompts' ids if a prefix cache keys on them, else only their counts."""
        return tok.encode_all(prompts) if keep_ids else tok.count_all(prompts)

    def job_of(body: CompletionRequest | ChatCompletionRequest, tokens: list[list[int]] | list[int]) -> Job:  # fmt: skip
        if isinstance(body, ChatCompletionRequest):
            chat, requested = True, body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens  # fmt: skip
        else:
            chat, requested = False, body.max_tokens if body.max_tokens is not None else COMPLETIONS_DEFAULT_MAX_TOKENS  # fmt: skip
        if keep_ids:
            ids = [tuple(i) for i in tokens]  # type: ignore[arg-type]
            return build_job(gateway.new_job(chat), body, [len(i) for i in ids], requested, ids=ids, **limits)  # fmt: skip
        return build_job(gateway.new_job(chat), body, tokens, requested, **limits)  # type: ignore[arg-type]

    def tokenized(raw: bytes) -> JSONResponse:
        body = parse_body(raw, TokenizeRequest)
        gateway.check_model(body.model)
        if body.messages is not None:
            check_messages(len(body.messages))
            text, param = render_chat([m.model_dump(exclude_none=True) for m in body.messages]), "messages"  # fmt: skip
        elif body.prompt is not None:
            text, param = body.prompt, "prompt"
        else:
            raise ApiError(400, "Give either prompt or messages.", param="prompt")
        check_prompt_chars(text, max_len, param)
        ids = tok.encode(text)
        return JSONResponse({"count": len(ids), "max_model_len": max_len, "tokens": ids, "token_strs": tok.token_strs(ids)})  # fmt: skip

    def detokenized(raw: bytes) -> JSONResponse:
        body = parse_body(raw, DetokenizeRequest)
        gateway.check_model(body.model)
        bad = next((t for t in body.tokens if not 0 <= t < tok.vocab_size), None)
        if bad is not None:
            raise ApiError(400, f"Token id {bad} is out of vocabulary (size {tok.vocab_size}).", param="tokens")  # fmt: skip
        return JSONResponse({"prompt": tok.decode(body.tokens)})

    async def serve(request: Request, prompts_of) -> Response:
        arrival_s = _arrival(request, clock)
        raw = await request.body()
        body, prompts = await offload.run_on(raw, prompts_of)
        # A small body's prompt is tokenised on the loop, like the rest of its work: the hop
        # to a worker thread and back waits for the GIL the pacing loop holds, and put live
        # TTFT p50 at 29-47 ms against 12.8 ms emulated on a quiet host
        # (tests/service/test_live_vs_offline.py). A large one goes to a worker, where the
        # tokenizer releases the GIL.
        tokens = await offload.run_for(len(raw), tokens_of, prompts)
        job = await offload.run_for(len(raw), job_of, body, tokens)
        return await gateway.serve(job, body, request, arrival_s)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await serve(request, completion_prompts_of)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        return await serve(request, chat_prompts_of)

    route_hot(app, {"/v1/completions": completions, "/v1/chat/completions": chat})

    @app.get("/v1/models")
    async def models() -> dict:
        card = ModelCard(id=emu.served_model_name, created=0, root=emu.loaded.model.name, max_model_len=max_len)  # fmt: skip
        return ModelList(data=[card]).model_dump()

    @app.post("/tokenize")
    async def tokenize(request: Request) -> Response:
        return await offload.run_on(await request.body(), tokenized)

    @app.post("/detokenize")
    async def detokenize(request: Request) -> Response:
        return await offload.run_on(await request.body(), detokenized)


def _arrival(request: Request, clock) -> float:
    stamped = request.scope.get("state", {}).get("arrival_s")
    return clock.now() if stamped is None else stamped
