"""A stand-in for `logyard serve` in agent tests: a real HTTP server on 127.0.0.1 that takes Loki
protobuf+snappy pushes and, like the server, stores an exact duplicate (labels, time, line) once.

It can answer with a chosen status (to test retries) or be shut down and brought back on the same port.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cramjam

from tests.agent.logproto import PushRequest


class Receiver:
    def __init__(self, port: int = 0) -> None:
        self.entries: dict[tuple[str, int, str], int] = {}  # (labels, ts, line) → times received
        self.order: list[tuple[str, int, str]] = []
        self.metadata: dict[tuple[str, int, str], list[tuple[str, str]]] = {}
        self.pushes = 0
        self.status = 204
        self.script: list[int] = []  # statuses to answer first, one per request, before `status`
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.port = port
        self.server = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/loki/api/v1/push"

    def start(self) -> None:
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with rec.lock:
                    rec.headers.append(dict(self.headers))
                    status = rec.script.pop(0) if rec.script else rec.status
                if status == 204:
                    req = PushRequest()
                    req.ParseFromString(bytes(cramjam.snappy.decompress_raw(body)))
                    with rec.lock:
                        rec.pushes += 1
                        for s in req.streams:
                            for e in s.entries:
                                key = (s.labels, e.timestamp.seconds * 10**9 + e.timestamp.nanos, e.line)
                                if key not in rec.entries:
                                    rec.order.append(key)
                                    rec.metadata[key] = [(p.name, p.value) for p in e.structuredMetadata]
                                rec.entries[key] = rec.entries.get(key, 0) + 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def lines(self, **match: str) -> list[str]:
        """Stored lines (each exact duplicate once) of streams whose labels include `match`, in arrival order."""
        want = [f'{k}="{v}"' for k, v in match.items()]
        with self.lock:
            return [line for labels, _, line in self.order if all(w in labels for w in want)]

    def streams(self) -> set[str]:
        with self.lock:
            return {labels for labels, _, _ in self.order}
