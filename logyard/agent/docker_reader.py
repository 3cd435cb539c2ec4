"""Following one container's log stream from its position, exactly once into the journal.

The reader asks the Engine for `GET /v{version}/containers/{id}/logs?stdout=1&stderr=1&timestamps=1`
(with `follow=1` for a running container, `since=` after a restart) and decodes the body with
`docker_frames`. The position (`docker_position`) holds, per stream, the newest time taken and how
many lines at that time were: Docker returns lines at or after `since`, and the marks skip those
already journaled.

The request is a plain httpx request to the Engine's documented HTTP API, not docker-py, because
docker-py's public `APIClient.logs(stream=True)` gives payloads without their frame headers, so
stdout and stderr (two streams, each its own label set) come out merged; the raw body is only
reachable through docker-py's private methods (`_get`, `_url`, `_get_raw_response_socket`). httpx
also takes `since` as the string `seconds.nanoseconds`, where docker-py's int or float loses the
nanoseconds the position needs, and hands out the connection's socket through its documented
`network_stream` extension, so `stop` can wake a read blocked on a quiet container. The container's
TTY flag (frames or not) comes from docker-py's public `inspect_container`.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from typing import Callable

import httpx
import numpy as np

from logyard.agent.assemble import Stamper, chunks_from_entries
from logyard.agent.docker_frames import Demuxer, LineAssembler
from logyard.agent.docker_position import STREAMS, DockerPosition, Resume
from logyard.agent.journal import StreamChunk
from logyard.agent.metrics import AgentMetrics
from logyard.agent.push import encode_entries
from logyard.agent.shipper import Shipper
from logyard.agent.stages.pipeline import Pipeline
from logyard.agent.stages.stage import Entry
from logyard.agent.targets import TargetRegistry
from logyard.labels import LabelSet

log = logging.getLogger("logyard.agent.docker")

# connecting may take a while on a busy engine; a follow stream may then be quiet for hours
TIMEOUT = httpx.Timeout(60.0, read=None)


def engine_client(host: str, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx client for the Engine at `host` (`unix:///path`, `tcp://h:p`, `http(s)://h:p`), shared
    by the readers of one `docker_sd_configs` entry: one connection each, no pool limit, and none kept
    alive, so that `stop` can never shut down a connection another reader took over."""
    if host.startswith("unix://"):
        transport = transport or httpx.HTTPTransport(uds=host[len("unix://"):])
        base = "http://docker"  # any host name: the socket is the address
    elif host.startswith("tcp://"):
        base = "http://" + host[len("tcp://"):]
    elif host.startswith(("http://", "https://")):
        base = host
    else:
        raise ValueError(f"docker host {host!r}: reading logs needs a unix://, tcp:// or http(s):// address")
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    return httpx.Client(base_url=base, transport=transport, timeout=TIMEOUT, limits=limits)


@dataclass(frozen=True)
class ReaderContext:
    """What the readers of one `docker_sd_configs` entry share: where lines, positions and states go."""

    shipper: Shipper
    registry: TargetRegistry
    metrics: AgentMetrics
    stamper: Stamper
    pipeline: Pipeline | None  # None when the scrape config has no stages
    stopping: Callable[[], bool]  # the agent is stopping: a broken stream is not an error then


def position_since(ts: int) -> str:
    """Docker parses `since` as seconds.nanoseconds and returns lines at or after it."""
    return f"{ts // 1_000_000_000}.{ts % 1_000_000_000:09d}"


class ContainerReader:
    """Reads one container's logs from its position; ends when the container stops (or on `stop`).

    `labels` maps "stdout"/"stderr" to the stream's labels after relabeling (None: dropped), `api`
    is docker-py's APIClient, `http` an `engine_client` and `version` the API version to ask for.
    """

    def __init__(
        self, container_id: str, labels: dict[str, dict[str, str] | None], follow: bool, api, http: httpx.Client,
        version: str, ctx: ReaderContext,
    ) -> None:
        self.id = container_id
        self.key = f"docker/{container_id}"
        self.labels = labels
        self.label_sets = {s: LabelSet(v.items()) for s, v in labels.items() if v is not None}
        self.follow = follow
        self.api, self.http, self.version, self.ctx = api, http, version, ctx
        self.sock: socket.socket | None = None
        self.thread = threading.Thread(target=self._run, name=f"docker-{container_id[:12]}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        # closing the response does not wake a thread blocked in recv; shutting the socket down does
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                log.debug("shutting down the log stream of %s", self.id, exc_info=True)

    def _run(self) -> None:
        reg = self.ctx.registry
        try:
            self._read()
            reg.update(self.key, state="stopped" if not self.follow else "running", last_error="")
        except Exception as exc:  # a broken stream is a target error, shown on /targets, retried next poll
            if not self.ctx.stopping():
                log.warning("reading logs of %s: %s", self.id[:12], exc)
                reg.update(self.key, state="error", last_error=str(exc))

    def _read(self) -> None:
        ctx = self.ctx
        start = DockerPosition.parse(ctx.shipper.resume(self.key))
        tty = bool((self.api.inspect_container(self.id).get("Config") or {}).get("Tty"))
        params = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": 1 if self.follow else 0}
        since = start.since()
        if since:
            params["since"] = position_since(since)
        with self.http.stream("GET", f"/v{self.version}/containers/{self.id}/logs", params=params) as response:
            if response.is_error:
                response.read()
                raise RuntimeError(f"logs of {self.id[:12]}: {response.status_code} {_engine_message(response)}")
            stream = response.extensions.get("network_stream")  # none from a test's MockTransport
            self.sock = stream.get_extra_info("socket") if stream is not None else None
            try:
                self._follow(response, tty, Resume(start))
            finally:
                self.sock = None

    def _follow(self, response: httpx.Response, tty: bool, resume: Resume) -> None:
        """Ship the lines of `response` that `resume` has not seen until it ends.

        When a followed stream ends (the agent stopping, the Engine closing it), a line still held
        may be cut: the parts of a message over 16 KiB not all come, or a TTY line without its
        newline yet. It is not shipped and the position stays before it, so the next read (a new
        follower, or the one pass after the container stopped) takes it whole."""
        ctx = self.ctx
        ctx.registry.update(self.key, state="running")
        demux, lines = Demuxer(tty), LineAssembler(tty)
        # each piece is what has arrived (the Engine sends a chunk per message, so mostly one
        # message): a quiet container's single line is shipped at once
        for data in _pieces(response):
            batch: list[tuple[str, int, bytes]] = []
            for stream, payload in demux.feed(data) if data else []:
                ctx.metrics.read_bytes.labels(self.key).inc(len(payload))
                batch += lines.feed(stream, payload)
            if not data and not self.follow:
                batch = lines.rest()  # the container has stopped: its unterminated last line is whole
            kept = [row for row in batch if resume.is_new(row[0], row[1])]
            if kept:
                self._ship(kept, str(resume.position))

    def _ship(self, batch: list[tuple[str, int, bytes]], pos: str) -> None:
        ctx = self.ctx
        ctx.metrics.docker_entries.inc(len(batch))
        chunks: list[StreamChunk] = []
        if ctx.pipeline is None:
            for stream in STREAMS:
                rows = [(ts, line) for s, ts, line in batch if s == stream]
                ls = self.label_sets.get(stream)
                if rows and ls:
                    ts = np.array([r[0] for r in rows], dtype=np.int64)
                    lines = [r[1] for r in rows]
                    chunks.append(StreamChunk(ls, encode_entries(ts, lines), len(rows), sum(map(len, lines))))
        else:
            entries = [
                Entry(line.decode("utf-8", "replace"), ts, dict(self.labels[s]))
                for s, ts, line in batch
                if self.labels.get(s) is not None
            ]
            chunks, dropped = chunks_from_entries(ctx.pipeline.process(entries), ctx.stamper)
            if dropped:
                ctx.metrics.pipeline_dropped.labels("no_labels").inc(dropped)
        ctx.shipper.submit({self.key: pos}, chunks)
        ctx.registry.update(self.key, position=pos)


def _pieces(response: httpx.Response):
    """The body as it arrives, then one b"" for its end (when the lines left over are shipped)."""
    yield from response.iter_raw()
    yield b""


def _engine_message(response: httpx.Response) -> str:
    """The Engine's error text (`{"message": ...}`), or the body as it came."""
    try:
        return str(response.json()["message"])
    except (ValueError, KeyError, TypeError):
        return response.text.strip()[:200]
