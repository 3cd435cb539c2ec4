"""Docker discovery and container logs through the Engine API.

Discovery lists containers (running and stopped, through the configured filters) every
`refresh_interval`. A running container gets a following reader; a stopped one not read since it
stopped gets one pass without following, so a container that lived between two polls is not missed.

Lines come from `/containers/{id}/logs?timestamps=1` as multiplexed frames (8-byte header: stream,
0, 0, 0, big-endian length) or, for TTY containers, as one raw stdout stream. The position is
`<timestamp ns>:<lines at that timestamp already taken>`, and a restart asks for `since=` that
time: Docker returns lines at or after it, and the count skips those already journaled.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import struct
import threading
import time
from typing import Callable

import numpy as np

from logyard.agent.assemble import Stamper, chunks_from_entries
from logyard.agent.journal import StreamChunk
from logyard.agent.metrics import AgentMetrics
from logyard.agent.push import encode_entries
from logyard.agent.relabel import Relabeler, public
from logyard.agent.shipper import Shipper
from logyard.agent.stages import Entry, Pipeline
from logyard.agent.targets import TargetInfo, TargetRegistry
from logyard.gocompat.timelayout import parse_rfc3339
from logyard.labels import LabelSet

log = logging.getLogger("logyard.agent.docker")

_NOT_LABEL = re.compile(r"[^a-zA-Z0-9_]")
STREAMS = {1: "stdout", 2: "stderr"}


def meta_labels(container: dict) -> dict[str, str]:
    """Promtail's `__meta_docker_*` labels of a container from `/containers/json`."""
    names = container.get("Names") or [""]
    out = {
        "__meta_docker_container_id": container["Id"],
        "__meta_docker_container_name": names[0],
        "__meta_docker_container_network_mode": (container.get("HostConfig") or {}).get("NetworkMode", ""),
    }
    for k, v in (container.get("Labels") or {}).items():
        out["__meta_docker_container_label_" + _NOT_LABEL.sub("_", k)] = v
    return out


def default_labels(container: dict, stream: str) -> dict[str, str]:
    lab = container.get("Labels") or {}
    out = {"container": ((container.get("Names") or [""])[0]).lstrip("/"), "stream": stream}
    if lab.get("com.docker.compose.service"):
        out["compose_service"] = lab["com.docker.compose.service"]
    if lab.get("com.docker.compose.project"):
        out["compose_project"] = lab["com.docker.compose.project"]
    return out


class Demuxer:
    """(stream, payload) pairs from the logs endpoint's body, fed in pieces of any size."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.buf = b""

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        if self.tty:
            return [("stdout", data)] if data else []
        buf = self.buf + data if self.buf else data
        out, off = [], 0
        while len(buf) - off >= 8:
            kind, size = buf[off], struct.unpack_from(">I", buf, off + 4)[0]
            if len(buf) - off - 8 < size:
                break
            out.append((STREAMS.get(kind, "stdout"), buf[off + 8 : off + 8 + size]))
            off += 8 + size
        self.buf = buf[off:]
        return out


class LineAssembler:
    """(stream, time, line) from demultiplexed payloads of `timestamps=1` logs.

    Without a TTY every frame is one message, `<RFC3339Nano time> <text>`; Docker cuts messages over
    16 KiB into parts without the final newline, which are joined here under the first part's time.
    A TTY stream has no frames: it is split at newlines and each line has its time in front.
    """

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.partial: dict[str, tuple[int, bytes]] = {}
        self.carry: dict[str, bytes] = {}

    def feed(self, stream: str, payload: bytes) -> list[tuple[str, int, bytes]]:
        out = []
        if self.tty:
            parts = (self.carry.pop(stream, b"") + payload).split(b"\n")
            rest = parts.pop()
            if rest:
                self.carry[stream] = rest
            for raw in parts:
                ts_text, _, line = raw.partition(b" ")
                ts = _timestamp(ts_text)
                if ts is not None:
                    out.append((stream, ts, line.rstrip(b"\r")))
            return out
        ts_text, _, text = payload.partition(b" ")
        ts = _timestamp(ts_text)
        if ts is None:
            return out
        held = self.partial.pop(stream, None)
        if held is not None:
            ts, text = held[0], held[1] + text
        if text.endswith(b"\n"):
            out.append((stream, ts, text[:-1]))
        else:
            self.partial[stream] = (ts, text)
        return out

    def rest(self) -> list[tuple[str, int, bytes]]:
        """What is left when the stream ends (a last line without its newline)."""
        out = [(s, ts, text) for s, (ts, text) in self.partial.items()]
        for s, raw in self.carry.items():
            ts_text, _, line = raw.partition(b" ")
            ts = _timestamp(ts_text)
            if ts is not None:
                out.append((s, ts, line.rstrip(b"\r")))
        self.partial.clear()
        self.carry.clear()
        return out


def _timestamp(text: bytes) -> int | None:
    try:
        return parse_rfc3339(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None


class ContainerReader:
    """Reads one container's logs from its position; ends when the container stops (or on `stop`)."""

    def __init__(self, owner: "DockerTargets", container: dict, follow: bool) -> None:
        self.owner = owner
        self.container = container
        self.id = container["Id"]
        self.key = f"docker/{self.id}"
        self.follow = follow
        self.response = None
        self.sock = None
        self.thread = threading.Thread(target=self._run, name=f"docker-{self.id[:12]}", daemon=True)
        meta = meta_labels(container)
        self.labels: dict[str, dict[str, str] | None] = {}
        for stream in ("stdout", "stderr"):
            lab = {**default_labels(container, stream), **meta, "__meta_docker_container_log_stream": stream}
            rel = owner.relabel.apply(lab)
            self.labels[stream] = public(rel) if rel is not None else None
        self.label_sets = {s: LabelSet(v.items()) for s, v in self.labels.items() if v is not None}

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        # closing the response does not wake a thread blocked in recv; shutting the socket down does
        sock = getattr(self.sock, "_sock", self.sock)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                log.debug("shutting down the log stream of %s", self.id, exc_info=True)

    def _run(self) -> None:
        reg = self.owner.registry
        try:
            self._read()
            reg.update(self.key, state="stopped" if not self.follow else "running", last_error="")
        except Exception as exc:  # a broken stream is a target error, shown on /targets, retried next poll
            if not self.owner.stopping:
                log.warning("reading logs of %s: %s", self.id[:12], exc)
                reg.update(self.key, state="error", last_error=str(exc))

    def _read(self) -> None:
        api = self.owner.api
        pos = self.owner.shipper.resume(self.key)
        last_ts, at_last = 0, 0
        if pos:
            a, _, b = pos.partition(":")
            last_ts, at_last = int(a), int(b or 0)
        tty = bool((api.inspect_container(self.id).get("Config") or {}).get("Tty"))
        params = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": 1 if self.follow else 0}
        if last_ts:
            # Docker parses `since` as seconds.nanoseconds and returns lines at or after it
            params["since"] = f"{last_ts // 1_000_000_000}.{last_ts % 1_000_000_000:09d}"
        # docker-py's public logs() merges stdout and stderr; the raw response keeps them apart
        self.response = api._get(api._url("/containers/{0}/logs", self.id), params=params, stream=True)
        self.response.raise_for_status()
        self.sock = api._get_raw_response_socket(self.response)
        api._disable_socket_timeout(self.sock)  # a follow stream may be quiet for hours
        self.owner.registry.update(self.key, state="running")
        skip_ts, skip_n = last_ts, at_last  # lines at the resume time already journaled
        demux, lines = Demuxer(tty), LineAssembler(tty)
        raw = self.response.raw
        while True:
            # read1 returns what has arrived (up to 1 MiB): a burst becomes one batch, a quiet
            # container's single line is shipped at once
            data = raw.read1(1024 * 1024)
            batch: list[tuple[str, int, bytes]] = []
            for stream, payload in demux.feed(data) if data else []:
                self.owner.metrics.read_bytes.labels(self.key).inc(len(payload))
                batch += lines.feed(stream, payload)
            if not data:
                batch = lines.rest()
            kept = []
            for row in batch:
                ts = row[1]
                if ts < skip_ts:
                    continue
                if ts == skip_ts and skip_n > 0:
                    skip_n -= 1
                    continue
                kept.append(row)
            if kept:
                last_ts, at_last = self._ship(kept, last_ts, at_last)
            if not data:
                return

    def _ship(self, batch: list[tuple[str, int, bytes]], last_ts: int, at_last: int) -> tuple[int, int]:
        owner = self.owner
        owner.metrics.docker_entries.inc(len(batch))
        # the position counts lines at the newest timestamp, including those of earlier batches
        for _, ts, _ in batch:
            if ts > last_ts:
                last_ts, at_last = ts, 1
            elif ts == last_ts:
                at_last += 1
        chunks: list[StreamChunk] = []
        if owner.pipeline is None:
            for stream in ("stdout", "stderr"):
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
            chunks, dropped = chunks_from_entries(owner.pipeline.process(entries), owner.stamper)
            if dropped:
                owner.metrics.pipeline_dropped.labels("no_labels").inc(dropped)
        pos = f"{last_ts}:{at_last}"
        owner.shipper.submit({self.key: pos}, chunks)
        owner.registry.update(self.key, position=pos)
        return last_ts, at_last


class DockerTargets:
    """One `docker_sd_configs` entry of one scrape config."""

    def __init__(
        self, scrape, sd, pipeline: Pipeline | None, shipper: Shipper, stamper: Stamper, metrics: AgentMetrics,
        registry: TargetRegistry, client_factory: Callable[[], object] | None = None,
    ) -> None:
        self.job = scrape.job_name
        self.sd = sd
        self.relabel = Relabeler(scrape.relabel_configs)
        # the multiline stage keeps lines across reads, which the per-read docker batches do not resume
        self.pipeline = pipeline if pipeline is not None and pipeline.stages else None
        self.shipper, self.stamper, self.metrics, self.registry = shipper, stamper, metrics, registry
        self.client_factory = client_factory or self._default_client
        self.api = None
        self.readers: dict[str, ContainerReader] = {}
        self.done: set[str] = set()  # stopped containers already read to their end
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _default_client(self):
        import docker

        host = self.sd.host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        return docker.APIClient(base_url=host, version="auto", timeout=60)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"docker-sd-{self.job}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for r in list(self.readers.values()):
            r.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for r in list(self.readers.values()):
            r.thread.join(timeout=5)
        self.flush_held(force=True)

    def _loop(self) -> None:
        # the discovery itself is a row on /targets, so an unreachable engine shows its error there
        key = f"docker_sd/{self.job}/{self.sd.host or os.environ.get('DOCKER_HOST', 'default')}"
        self.registry.put(TargetInfo(key, self.job, "docker_sd", {"host": self.sd.host or ""}, {}, "starting"))
        while not self._stop.is_set():
            try:
                if self.api is None:
                    self.api = self.client_factory()
                self.refresh()
                self.flush_held()
                self.registry.update(key, state="running", last_error="")
            except Exception as exc:  # the engine may be down for a while: show it, try again
                log.warning("docker discovery (%s): %s", self.job, exc)
                self.registry.update(key, state="error", last_error=str(exc))
                self.api = None
            self._stop.wait(self.sd.refresh_interval)

    def flush_held(self, force: bool = False) -> None:
        """Multiline blocks that waited long enough. Docker positions do not track held lines, so
        a block still held at a crash is read again only if it is newer than the last position."""
        if self.pipeline is None or not self.pipeline.holds:
            return
        entries = self.pipeline.flush(time.time_ns(), force)
        if entries:
            chunks, _ = chunks_from_entries(entries, self.stamper)
            self.shipper.submit({}, chunks)

    def refresh(self) -> None:
        filters: dict[str, list[str]] = {}
        for f in self.sd.filters:
            filters.setdefault(f.name, []).extend(f.values)
        containers = self.api.containers(all=True, filters=filters)
        present = set()
        for c in containers:
            cid = c["Id"]
            present.add(cid)
            running = c.get("State") == "running"
            reader = self.readers.get(cid)
            if reader is not None and reader.thread.is_alive():
                continue
            if not running and (cid in self.done or reader is not None and not reader.follow):
                continue
            new = ContainerReader(self, c, follow=running)
            if not any(v is not None for v in new.labels.values()):
                self.registry.put(TargetInfo(new.key, self.job, "docker", meta_labels(c), {}, "dropped"))
                continue
            if not running:
                self.done.add(cid)
            else:
                self.done.discard(cid)
            self.readers[cid] = new
            self.registry.put(
                TargetInfo(new.key, self.job, "docker", meta_labels(c), new.labels.get("stdout") or {}, "starting")
            )
            new.start()
        for cid in list(self.readers):
            if cid not in present:  # removed (a container's labels never change)
                reader = self.readers.pop(cid)
                reader.stop()
                reader.thread.join(timeout=5)
                self.done.discard(cid)
                self.registry.remove(reader.key)
                self.shipper.submit({reader.key: None}, [])  # its position is of no use any more
