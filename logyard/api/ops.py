"""The operator's endpoints: `/ready`, `/metrics`, `/config`, `/runtime_config` (the per-tenant
overrides in force), Loki's build info, and `/flush` (the head cut into blocks now, as Loki's
ingester flush)."""

from __future__ import annotations

import yaml
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from logyard import __version__
from logyard.api.responses import json_response, no_content
from logyard.api.server import NOT_READY, STOPPING, Server


class OpsRoutes:
    def __init__(self, server: Server) -> None:
        self.server = server

    def routes(self) -> list[Route]:
        return [
            Route("/loki/api/v1/status/buildinfo", self.buildinfo),
            Route("/ready", self.ready),
            Route("/metrics", self.metrics),
            Route("/config", self.config),
            Route("/runtime_config", self.runtime_config),
            Route("/flush", self.flush, methods=["POST"]),
        ]

    async def ready(self, request: Request) -> Response:
        srv = self.server
        if srv.stopping.is_set():
            return PlainTextResponse(STOPPING + "\n", status_code=503)
        if srv.ready.is_set():
            return PlainTextResponse("ready\n")
        if srv.open_error is not None:
            return PlainTextResponse(f"storage failed to open: {srv.open_error}\n", status_code=503)
        return PlainTextResponse(NOT_READY + "\n", status_code=503)

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.server.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def config(self, request: Request) -> Response:
        doc = self.server.cfg.model_dump(mode="json")
        return PlainTextResponse(yaml.safe_dump(doc, sort_keys=False), media_type="text/plain; charset=utf-8")

    async def runtime_config(self, request: Request) -> Response:
        """Loki's `/runtime_config`: the overrides in force; `?mode=diff`: what differs from `limits:`."""
        text = self.server.overrides.to_yaml(diff=request.query_params.get("mode") == "diff")
        return PlainTextResponse(text, media_type="text/plain; charset=utf-8")

    async def buildinfo(self, request: Request) -> Response:
        return json_response({"version": __version__, "revision": "", "branch": "main",
                              "buildUser": "", "buildDate": "", "goVersion": ""})

    async def flush(self, request: Request) -> Response:
        self.server.require_ready()
        await run_in_threadpool(self.server.store.flush)
        return no_content()
