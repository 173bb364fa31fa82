"""The OpenAI routes (/v1/completions, /v1/chat/completions, /v1/models, /tokenize,
/detokenize), shared by the embedded server and the distributed gateway.

Each handler reads its body on the event loop and does everything that grows with the body
(parsing, checks, tokenising, drawing the answers, rendering JSON) in one call on the
worker threads (offload.py); only admission and the stream stay on the loop."""

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
from llmemu.service.api.jobs import (
    COMPLETIONS_DEFAULT_MAX_TOKENS,
    Job,
    build_job,
    chat_prompt_count,
    chat_prompt_ids,
    check_sampling,
    prompt_counts,
    prompt_ids,
)
from llmemu.service.api.limits import check_messages, check_prompt_chars
from llmemu.service.api.offload import OffLoop, parse_body
from llmemu.service.text.tokenizer import render_chat


def openai_routes(app: FastAPI, settings, emu, gateway: Gateway, tok, sampler, clock, offload: OffLoop) -> None:  # fmt: skip
    max_len = emu.max_model_len
    # A prefix cache keys blocks on token ids: only then are the prompt's ids kept and sent.
    keep_ids = getattr(emu, "prefix_caching", False)
    limits = {"max_model_len": max_len, "overflow": settings.context_overflow, "sampler": sampler, "word_text": tok.word_text}  # fmt: skip

    def completion_job(raw: bytes) -> tuple[CompletionRequest, Job]:
        body = parse_body(raw, CompletionRequest)
        gateway.check_model(body.model)
        check_sampling(body)
        requested = body.max_tokens if body.max_tokens is not None else COMPLETIONS_DEFAULT_MAX_TOKENS  # fmt: skip
        if not keep_ids:
            counts = prompt_counts(body, tok, max_len)
            return body, build_job(gateway.new_job(False), body, counts, requested, **limits)
        ids = prompt_ids(body, tok, max_len)
        counts = [len(i) for i in ids]
        return body, build_job(gateway.new_job(False), body, counts, requested, ids=ids, **limits)  # fmt: skip

    def chat_job(raw: bytes) -> tuple[ChatCompletionRequest, Job]:
        body = parse_body(raw, ChatCompletionRequest)
        gateway.check_model(body.model)
        check_sampling(body)
        requested = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens  # fmt: skip
        if not keep_ids:
            counts = [chat_prompt_count(body, tok, max_len)]
            return body, build_job(gateway.new_job(True), body, counts, requested, **limits)
        ids = [chat_prompt_ids(body, tok, max_len)]
        return body, build_job(gateway.new_job(True), body, [len(ids[0])], requested, ids=ids, **limits)  # fmt: skip

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

    async def serve(request: Request, prepare) -> Response:
        arrival_s = _arrival(request, clock)
        body, job = await offload.run_on(await request.body(), prepare)
        return await gateway.serve(job, body, request, arrival_s)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await serve(request, completion_job)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        return await serve(request, chat_job)

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
