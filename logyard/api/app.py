"""The Starlette application: the route families wired onto one shared `Server`, the error
handler, the request metrics, and the store opened and closed with the app's lifespan; and the
uvicorn server that runs it, which closes the live tails with Loki's message when it shuts down."""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from logyard.api.deletes import DeleteRoutes
from logyard.api.drilldown import DrilldownRoutes
from logyard.api.internal import InternalRoutes
from logyard.api.meta import MetaRoutes
from logyard.api.ops import OpsRoutes
from logyard.api.push import PushRoutes
from logyard.api.query import QueryRoutes
from logyard.api.request_metrics import RequestMetrics
from logyard.api.responses import render_error
from logyard.api.server import Server
from logyard.api.tail import SHUTTING_DOWN, TailRoutes
from logyard.config.server import ServerConfig, parse_duration_ns
from logyard.errors import LogyardError
from logyard.ui.routes import ui_routes

log = logging.getLogger("logyard.api")

FAMILIES = (PushRoutes, QueryRoutes, MetaRoutes, DrilldownRoutes, OpsRoutes, TailRoutes, DeleteRoutes)
# The route families each target serves (docs/scaling.md); a path of another target answers 404, as
# in Loki. A reader's live tails follow the writers' appends (api/writer_tails.py). Readers serve the
# delete API too when the bucket holds the requests (create_app).
TARGET_FAMILIES = {
    "all": (*FAMILIES, InternalRoutes),
    "write": (PushRoutes, InternalRoutes, OpsRoutes),
    "read": (QueryRoutes, MetaRoutes, DrilldownRoutes, OpsRoutes, TailRoutes),
    "backend": (DeleteRoutes, OpsRoutes),
}


def create_app(cfg: ServerConfig) -> Starlette:
    server = Server(cfg)

    @asynccontextmanager
    async def lifespan(app):
        t = threading.Thread(target=server.open, name="store-open", daemon=True)
        t.start()
        yield
        await run_in_threadpool(t.join)
        await run_in_threadpool(server.close)

    families = TARGET_FAMILIES[cfg.target]
    if cfg.target == "read" and server.store.deletes.shared:
        families = (*families, DeleteRoutes)  # any reader takes, lists and cancels them: one bucket holds them
    routes = [route for family in families for route in family(server).routes()]
    if cfg.target in ("all", "read"):
        routes += ui_routes()
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={LogyardError: render_error, Exception: render_error},
        middleware=[Middleware(RequestMetrics, histogram=server.metrics.request_duration)],
    )
    app.state.server = server
    return app


class AppServer(uvicorn.Server):
    """uvicorn's server for `create_app`'s app, stopping as Loki does on SIGTERM: /ready answers 503
    and pushes are refused at once; after `shutdown_delay` the head is flushed while the port still
    answers, the tails are closed with Loki's code and text (uvicorn would close every websocket with
    a bare 1012 before the app hears of it), then uvicorn waits for the requests in flight (at most
    its graceful timeout) and the lifespan closes the store, flushing what those requests added."""

    def handle_exit(self, sig, frame) -> None:
        # At the signal, not at uvicorn's next tick (0.1s later): no push is taken after SIGTERM.
        self.config.app.state.server.stopping.set()
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets=None) -> None:
        server: Server = self.config.app.state.server
        server.stopping.set()
        delay_s = parse_duration_ns(server.cfg.shutdown_delay) / 1e9
        if delay_s:
            log.info("waiting %s before shutting down", server.cfg.shutdown_delay)
            await asyncio.sleep(delay_s)
        await server.tails.close_all(SHUTTING_DOWN)
        if server.ready.is_set():
            try:
                await run_in_threadpool(server.store.flush)
            except LogyardError as exc:  # the WAL still holds it all: the next start replays it
                log.error("flushing the head at shutdown failed: %s", exc.message)
        await super().shutdown(sockets)
