"""How answers leave the server: JSON bodies as Loki encodes them, and errors as Loki words them.

`render_error` is the one place where an exception becomes an HTTP response: a `LogyardError` as
its status and its text (`text/plain`, as Loki answers), anything else as a logged 500.
"""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from logyard.errors import LogyardError

log = logging.getLogger("logyard.api")

JSON_TYPE = "application/json; charset=UTF-8"


def json_response(payload, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON_TYPE)


def success(data) -> Response:
    """Loki's envelope of query and metadata answers: `{"status": "success", "data": ...}`."""
    return json_response({"status": "success", "data": data})


def no_content() -> Response:
    return Response(status_code=204)


def error_response(exc: LogyardError) -> Response:
    return PlainTextResponse(exc.message, status_code=exc.status)


async def render_error(request: Request, exc: Exception) -> Response:
    """The app's handler for every exception a route lets out; client errors are logged at info."""
    if isinstance(exc, LogyardError):
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.message)
        else:
            log.info("%s %s -> %d: %s", request.method, request.url.path, exc.status, exc.message)
        return error_response(exc)
    log.exception("internal error on %s %s", request.method, request.url.path)
    return PlainTextResponse(f"internal error: {exc}", status_code=500)
