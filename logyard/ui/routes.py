"""The explorer's routes: `/` answers the page, `/ui/…` its assets from the package's `static/` folder."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


async def index(request: Request) -> Response:
    # The page is small and changes with each release: revalidate rather than cache it blind.
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def ui_routes() -> list[BaseRoute]:
    return [
        Route("/", index),
        Mount("/ui", app=StaticFiles(directory=STATIC), name="ui"),
    ]
