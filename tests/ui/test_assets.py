"""The server answers the explorer at `/` and every asset its page names; the wheel ships them all."""

from __future__ import annotations

import re
import tomllib

import httpx
import pytest

from tests.support.paths import REPO

STATIC = REPO / "logyard" / "ui" / "static"


@pytest.mark.slow
def test_the_page_and_every_asset_it_names_are_served(corpus_server):
    page = httpx.get(corpus_server.url + "/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/ui/[^"]+)"', page.text)
    assert {"/ui/js/main.js", "/ui/css/app.css", "/ui/vendor/uplot/uPlot.iife.min.js"} <= set(assets)
    # The modules main.js imports, transitively.
    modules, todo = set(), ["main.js"]
    while todo:
        name = todo.pop()
        if name in modules:
            continue
        modules.add(name)
        r = httpx.get(f"{corpus_server.url}/ui/js/{name}", timeout=10)
        assert r.status_code == 200 and "javascript" in r.headers["content-type"], name
        todo += re.findall(r'from "\./([\w.]+)"', r.text)
    assert modules == {p.name for p in (STATIC / "js").glob("*.js")}
    for path in assets:
        assert httpx.get(corpus_server.url + path, timeout=10).status_code == 200, path
    assert httpx.get(corpus_server.url + "/ui/vendor/uplot/LICENSE", timeout=10).status_code == 200


def test_package_data_covers_every_static_file():
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["logyard.ui"]
    package = REPO / "logyard" / "ui"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    assert {p for p in STATIC.rglob("*") if p.is_file()} == shipped
