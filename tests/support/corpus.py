"""The conformance corpus (tests/conformance/data) loaded into real servers.

`load_corpus` pushes it as its README says: the gzip JSON files, in order. `corpus_server` is one
server per test session holding the corpus, flushed to blocks, for the tests that only read it (the
docs' examples, the Grafana contract, Drilldown, the dashboard's queries): loading it once saves each
module its own ten-second load. Tests that push or delete must start their own server.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.paths import CONFORMANCE
from tests.support.server import ServerProcess

DATA = CONFORMANCE / "data"
# The corpus' window, README "Time window": 2026-01-01T00:00:00Z ≤ t < 2026-01-01T02:00:00Z.
START_NS, END_NS = 1767225600_000000000, 1767232800_000000000


def load_corpus(*urls: str) -> None:
    """Push the corpus to `urls`, each file to the next in turn (several: the writers of a scaled-out
    installation, which each take any push)."""
    clients = [httpx.Client(base_url=url, timeout=120) for url in urls]
    try:
        for i, path in enumerate(sorted(DATA.glob("push-*.json.gz"))):
            r = clients[i % len(clients)].post(
                "/loki/api/v1/push", content=path.read_bytes(),
                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
            assert r.status_code == 204, f"{path.name}: {r.status_code} {r.text}"
    finally:
        for client in clients:
            client.close()


def start_loaded(data_dir) -> ServerProcess:
    """A started server holding the whole corpus in blocks (the caller stops it)."""
    srv = ServerProcess(data_dir).start()
    load_corpus(srv.url)
    r = httpx.post(srv.url + "/flush", timeout=120)
    assert r.status_code == 204, r.text
    return srv


@pytest.fixture(scope="session")
def corpus_server(tmp_path_factory):
    """Read-only: never push into it."""
    srv = start_loaded(tmp_path_factory.mktemp("corpus") / "data")
    try:
        yield srv
    finally:
        srv.stop()
