"""Every LogQL example in the docs runs against the corpus and returns data, so the docs cannot rot.

An example is a ```logql fenced block in README.md or docs/*.md, one query per block (it may span
lines). Log queries are asked as Explore asks (`query_range`, backward, a limit), metric queries over
the corpus' two hours at a one-minute step; each must answer 200 with at least one stream or series.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.corpus import END_NS, START_NS
from tests.support.paths import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```logql\n(.*?)^```", re.S | re.M)


def examples() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        for n, m in enumerate(BLOCK.finditer(path.read_text()), 1):
            found.append((f"{path.relative_to(REPO)}#{n}", m.group(1).strip()))
    return found


EXAMPLES = examples()


def test_the_guide_has_examples():
    assert sum(1 for where, _ in EXAMPLES if where.startswith("docs/logging.md")) >= 20


@pytest.mark.parametrize(("where", "query"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_example_returns_data(corpus_server, where, query):
    params = {"query": query, "start": str(START_NS), "end": str(END_NS), "limit": "100", "step": "60"}
    r = httpx.get(corpus_server.url + "/loki/api/v1/query_range", params=params, timeout=120)
    assert r.status_code == 200, f"{where}: {r.status_code} {r.text}"
    data = r.json()["data"]
    assert data["result"], f"{where} returned nothing: {query}"
    if data["resultType"] == "streams":
        assert any(s["values"] for s in data["result"])
