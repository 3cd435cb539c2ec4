"""The agent's own endpoints: `/ready`, `/metrics`, `/targets` (HTML, or JSON on `Accept` or `?format=json`).

A stdlib threading HTTP server: three read-only pages do not need an ASGI stack in the agent.
"""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from logyard.agent.metrics import AgentMetrics
from logyard.agent.targets import TargetRegistry
from logyard.startup import bind_error


def _targets_html(registry: TargetRegistry) -> str:
    rows = []
    for t in registry.snapshot():
        labels = ", ".join(f"{k}={html.escape(v)}" for k, v in sorted(t.labels.items()))
        rows.append(
            f"<tr><td>{html.escape(t.job)}</td><td>{html.escape(t.kind)}</td><td>{html.escape(t.key)}</td>"
            f"<td>{html.escape(t.state)}</td><td>{labels}</td><td>{html.escape(t.last_error)}</td></tr>"
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>logyard agent targets</title></head><body>"
        "<h1>Targets</h1><table border='1' cellpadding='4'><tr><th>job</th><th>type</th><th>target</th>"
        "<th>state</th><th>labels</th><th>last error</th></tr>" + "".join(rows) + "</table></body></html>"
    )


def serve(host: str, port: int, metrics: AgentMetrics, registry: TargetRegistry, ready: Callable[[], bool]):
    """Start serving in a daemon thread; returns the server (call `.shutdown()` to stop). A port that
    cannot be bound is a StartupError naming the address."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # access logs would drown the agent's own log
            pass

        def _send(self, status: int, body: bytes, ctype: str, cors: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            origin = self.headers.get("Origin", "")
            if cors and _same_host(origin, self.headers.get("Host", "")):
                # The explorer's status view (served by logyard on another port of this host) reads it.
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Vary", "Origin")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/ready":
                ok = ready()
                self._send(200 if ok else 503, b"ready\n" if ok else b"not ready\n", "text/plain")
            elif url.path == "/metrics":
                self._send(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            elif url.path == "/targets":
                wants_json = parse_qs(url.query).get("format") == ["json"] or "application/json" in self.headers.get(
                    "Accept", ""
                )
                if wants_json:
                    body = orjson.dumps({"targets": [t.as_json() for t in registry.snapshot()]})
                    self._send(200, body, "application/json", cors=True)
                else:
                    self._send(200, _targets_html(registry).encode(), "text/html; charset=utf-8")
            else:
                self._send(404, b"404 page not found\n", "text/plain")

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise bind_error(host, port, exc) from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


def _same_host(origin: str, host: str) -> bool:
    """A page of this host, any port (logyard's explorer beside the agent): the only origin the
    targets JSON is shared with, so other sites a browser visits cannot read this machine's targets."""
    if not origin or not host:
        return False
    return urlsplit(origin).hostname == urlsplit("//" + host).hostname
