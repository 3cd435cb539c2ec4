"""The Starlette application: the route families wired onto one shared `Server`, the error
handler, the request metrics, and the store opened and closed with the app's lifespan; and the
uvicorn server that runs it, which closes the live tails with Loki's message when it shuts down."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from logyard.api.drilldown import DrilldownRoutes
from logyard.api.meta import MetaRoutes
from logyard.api.ops import OpsRoutes
from logyard.api.push import PushRoutes
from logyard.api.query import QueryRoutes
from logyard.api.request_metrics import RequestMetrics
from logyard.api.responses import render_error
from logyard.api.server import Server
from logyard.api.tail import SHUTTING_DOWN, TailRoutes
from logyard.config.server import ServerConfig
from logyard.errors import LogyardError
from logyard.ui.routes import ui_routes

FAMILIES = (PushRoutes, QueryRoutes, MetaRoutes, DrilldownRoutes, OpsRoutes, TailRoutes)


def create_app(cfg: ServerConfig) -> Starlette:
    server = Server(cfg)

    @asynccontextmanager
    async def lifespan(app):
        t = threading.Thread(target=server.open, name="store-open", daemon=True)
        t.start()
        yield
        await run_in_threadpool(t.join)
        await run_in_threadpool(server.close)

    routes = [route for family in FAMILIES for route in family(server).routes()] + ui_routes()
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={LogyardError: render_error, Exception: render_error},
        middleware=[Middleware(RequestMetrics, histogram=server.metrics.request_duration)],
    )
    app.state.server = server
    return app


class AppServer(uvicorn.Server):
    """uvicorn's server for `create_app`'s app. On shutdown uvicorn closes every websocket with a
    bare 1012 before the app hears of it; the tails are closed first, with Loki's code and text."""

    async def shutdown(self, sockets=None) -> None:
        await self.config.app.state.server.tails.close_all(SHUTTING_DOWN)
        await super().shutdown(sockets)
