"""Stopping and starting as Loki does: from SIGTERM /ready answers 503 and pushes are refused, the
acknowledged data is flushed and survives, the process exits within uvicorn's graceful bound; until
the WAL is replayed /ready answers Loki's not-ready text."""

from __future__ import annotations

import signal
import time

import httpx
import pytest
import orjson
from starlette.testclient import TestClient

from logyard.api.app import create_app
from logyard.config.server import ServerConfig
from tests.support.server import HISTORIC_DATA_CONFIG, ServerProcess

T0 = 1767225600000000000
EXIT_BOUND_S = 45  # uvicorn's graceful timeout (30s) plus the flush of a small head


def push(srv, lines: list[str], start: int = 0) -> httpx.Response:
    body = {"streams": [{"stream": {"job": "stop"}, "values": [[str(T0 + start + i), x] for i, x in enumerate(lines)]}]}
    return httpx.post(srv.url + "/loki/api/v1/push", content=orjson.dumps(body),
                      headers={"Content-Type": "application/json"})


def wait_for_not_ready(srv, timeout: float = 5.0) -> httpx.Response:
    """The first /ready answer after the server took the signal (delivered asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(srv.url + "/ready")
        if r.status_code != 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.01)


def test_sigterm_refuses_pushes_reports_stopping_and_keeps_acknowledged_data(tmp_path):
    config = HISTORIC_DATA_CONFIG + "shutdown_delay: 5s\n"
    srv = ServerProcess(tmp_path / "data", config_text=config).start()
    try:
        acked = [f"line {i}" for i in range(100)]
        assert push(srv, acked).status_code == 204
        srv.proc.send_signal(signal.SIGTERM)
        # shutdown_delay keeps the port answering for 5s: both answers come from inside that window
        ready = wait_for_not_ready(srv)
        assert (ready.status_code, ready.text) == (503, "Application is stopping\n")
        refused = push(srv, ["after SIGTERM"], start=1000)
        assert (refused.status_code, refused.text) == (503, "Ingester is shutting down")
        srv.proc.wait(timeout=EXIT_BOUND_S)
        assert srv.proc.returncode in (0, -signal.SIGTERM)
        assert "flushing the head at shutdown failed" not in srv.log_tail()
    finally:
        srv.kill()
    with ServerProcess(tmp_path / "data", config_text=HISTORIC_DATA_CONFIG) as again:
        r = httpx.get(again.url + "/loki/api/v1/query_range", params={
            "query": '{job="stop"}', "start": str(T0 - 10**9), "end": str(T0 + 10**12), "limit": 1000})
        got = sorted(v[1] for s in r.json()["data"]["result"] for v in s["values"])
        assert got == sorted(acked)
        assert "WAL rows into the head" not in again.log_tail()  # flushed at shutdown: nothing left in the WAL to replay


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_before_the_wal_replay_ready_and_push_answer_lokis_not_ready(tmp_path):
    # The app without its lifespan: the store is never opened, as during a long WAL replay.
    cfg = ServerConfig()
    cfg.storage.data_dir = tmp_path / "data"
    cfg.server.decode_workers = 0
    client = TestClient(create_app(cfg))
    r = client.get("/ready")
    assert (r.status_code, r.text) == (503, "Ingester not ready: waiting for the WAL replay to finish\n")
    r = client.post("/loki/api/v1/push", content=b'{"streams":[]}', headers={"Content-Type": "application/json"})
    assert (r.status_code, r.text) == (503, "Ingester not ready: waiting for the WAL replay to finish")
