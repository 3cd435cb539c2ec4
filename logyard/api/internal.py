"""Routes between the processes of a scaled-out installation (docs/scaling.md), not Loki's API.

`GET /internal/head`: a writer's unflushed rows of the request's tenant (X-Scope-OrgID, as every
route), optionally only those in [start, end) (integer nanoseconds), as one Arrow IPC stream with the
label sets of their streams (storage/head_wire.py). Readers ask every writer for it at each query.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logyard.api.server import Server
from logyard.api.writer_heads import HEAD_PATH
from logyard.errors import LogyardError
from logyard.storage.head_wire import MEDIA_TYPE, encode_head

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _ns(value: str | None, default: int, name: str) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise LogyardError(f"invalid {name}: {value!r} is not nanoseconds", status=400) from None


class InternalRoutes:
    def __init__(self, server: Server) -> None:
        self.server = server

    def routes(self) -> list[Route]:
        return [Route(HEAD_PATH, self.head)]

    async def head(self, request: Request) -> Response:
        tenant = self.server.tenant(request)
        self.server.require_ready()
        q = request.query_params
        start, end = _ns(q.get("start"), INT64_MIN, "start"), _ns(q.get("end"), INT64_MAX, "end")

        def encoded() -> bytes:
            return encode_head(*self.server.store.head_rows(tenant, start, end))

        return Response(await run_in_threadpool(encoded), media_type=MEDIA_TYPE)
