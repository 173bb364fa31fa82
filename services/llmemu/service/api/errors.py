"""Errors in the OpenAI envelope `{"error": {message, type, param, code}}`, with vLLM's
statuses and types (vllm/entrypoints/openai/protocol.py's ErrorResponse). Domain errors map
explicitly; one handler catches the unexpected, logs it with the request id and answers a
generic 500 that leaks nothing."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from llmemu.protocol.openai import ErrorInfo, ErrorResponse

log = logging.getLogger("llmemu.gateway")

TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    405: "MethodNotAllowed",
    413: "RequestEntityTooLarge",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        err_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.err_type = err_type or TYPES.get(status, "Error")
        self.headers = headers


def error_body(status: int, message: str, err_type: str, param: str | None = None) -> dict:
    info = ErrorInfo(message=message, type=err_type, param=param, code=status)
    return ErrorResponse(error=info).model_dump()


def error_response(exc: ApiError) -> JSONResponse:
    body = error_body(exc.status, exc.message, exc.err_type, exc.param)
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    lines = [f"{len(errors)} validation error{'s' if len(errors) != 1 else ''}:"]
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        lines.append(
            f"  {{'type': {err.get('type')!r}, 'loc': {loc!r}, 'msg': {err.get('msg')!r}}}"
        )
    first = ".".join(str(p) for p in errors[0].get("loc", ())) if errors else None
    return "\n".join(lines), first


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # vLLM answers validation errors with 400 and the HTTP phrase as the type.
        message, param = _validation_message(exc)
        return JSONResponse(error_body(400, message, "Bad Request", param), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        err_type = TYPES.get(exc.status_code, "Error")
        body = error_body(exc.status_code, str(exc.detail), err_type)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(ClientDisconnect)
    async def _gone(_: Request, __: ClientDisconnect) -> Response:
        # The client left while its body was still coming in: nothing was submitted, so
        # there is nothing to abort, and nobody to answer (499, as for a whole answer).
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        log.error("request %s failed", request_id, exc_info=exc)
        body = error_body(500, f"Internal server error (request id {request_id})", TYPES[500])
        return JSONResponse(body, status_code=500)
