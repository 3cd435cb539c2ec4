"""Tailing files matched by globs: big reads, bulk line splitting, rotation and truncation.

A position is `offset:dev:inode` of the end of the last complete line, so a partial last line is
read again after a restart rather than shipped half. Rotation by rename is seen as the path pointing
at another inode: the old file is read to its end (through the still open descriptor) before the new
one is opened. A file renamed while the agent was down is found again by its inode in the same
directory. Copytruncate is seen as a file shorter than the offset, and reading starts over at 0.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

from logyard.agent.assemble import Stamper, chunk_from_lines, chunks_from_entries
from logyard.agent.metrics import AgentMetrics
from logyard.agent.relabel import Relabeler, public
from logyard.agent.shipper import Shipper
from logyard.agent.stages.pipeline import Pipeline
from logyard.agent.stages.stage import Entry
from logyard.agent.targets import TargetInfo, TargetRegistry
from logyard.labels import LabelSet

log = logging.getLogger("logyard.agent.files")

READ_SIZE = 1024 * 1024
ROTATED_GRACE_S = 1.0  # how long a renamed-away file may still grow before its partial tail is final


def parse_position(pos: str | None) -> tuple[int, int, int] | None:
    """(offset, dev, inode); a plain Promtail offset gives dev = inode = -1."""
    if not pos:
        return None
    parts = pos.split(":")
    try:
        if len(parts) == 3:
            return int(parts[0]), int(parts[1]), int(parts[2])
        return int(parts[0]), -1, -1
    except ValueError:
        return None


def find_by_inode(directory: str, dev: int, ino: int) -> str | None:
    try:
        with os.scandir(directory) as it:
            for ent in it:
                st = ent.stat(follow_symlinks=False)
                if st.st_ino == ino and st.st_dev == dev and ent.is_file():
                    return ent.path
    except OSError:
        return None
    return None


@dataclass
class _Open:
    fd: int
    dev: int
    ino: int
    offset: int  # bytes consumed (including the carry)
    carry: bytes = b""

    @property
    def committed(self) -> int:
        return self.offset - len(self.carry)


class FileTailer:
    """One path. `poll()` reads what is there and returns True when it read anything."""

    def __init__(
        self, path: str, labels: dict[str, str], pipeline: Pipeline | None, shipper: Shipper,
        stamper: Stamper, metrics: AgentMetrics, registry: TargetRegistry,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path  # where it is read (under the filesystem root)
        self.key = labels.get("filename", path)  # how it is named: positions, metrics, /targets
        self.labels = labels
        self.label_set = LabelSet(labels.items())
        self.pipeline = pipeline if pipeline and pipeline.stages else None
        self.shipper, self.stamper, self.metrics, self.registry = shipper, stamper, metrics, registry
        self.monotonic = monotonic
        self.cur: _Open | None = None
        self.rotated_since: float | None = None
        self._resumed = False

    # -- opening -----------------------------------------------------------------------------

    def _open_first(self) -> None:
        """On the first poll: continue where the last run stopped, finishing a file rotated meanwhile."""
        self._resumed = True
        pos = parse_position(self.shipper.resume(self.key))
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if pos is not None and pos[1] >= 0 and (st is None or (st.st_dev, st.st_ino) != (pos[1], pos[2])):
            old = find_by_inode(os.path.dirname(self.path) or ".", pos[1], pos[2])
            if old is not None:
                log.info("%s was rotated while stopped; finishing %s from %d", self.path, old, pos[0])
                self._open(old, pos[0])
                self.rotated_since = self.monotonic()
                return
            pos = None
        if st is not None:
            offset = pos[0] if pos is not None else 0
            self._open(self.path, offset if offset <= st.st_size else 0)

    def _open(self, path: str, offset: int) -> bool:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        st = os.fstat(fd)
        self.cur = _Open(fd, st.st_dev, st.st_ino, offset)
        return True

    def close(self) -> None:
        if self.cur is not None:
            os.close(self.cur.fd)
            self.cur = None

    # -- reading -----------------------------------------------------------------------------

    def poll(self) -> bool:
        if not self._resumed:
            self._open_first()
        if self.cur is None:
            if not self._open(self.path, 0):
                return False
        cur = self.cur
        data = os.pread(cur.fd, READ_SIZE, cur.offset)
        if data:
            self.rotated_since = None
            self._consume(cur, data)
            return True
        return self._check_rotation(cur)

    def _check_rotation(self, cur: _Open) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if st is not None and (st.st_dev, st.st_ino) == (cur.dev, cur.ino):
            size = os.fstat(cur.fd).st_size
            if size < cur.offset:  # copytruncate
                log.info("%s was truncated (%d < %d); reading from the start", self.path, size, cur.offset)
                cur.offset, cur.carry = 0, b""
                self._submit(cur, [], None)
                return True
            self.metrics.file_bytes.labels(self.key).set(size)
            return False
        # renamed or deleted: the old file is read to its end; give a writer a moment to finish a line
        now = self.monotonic()
        if self.rotated_since is None:
            self.rotated_since = now
            return False
        if now - self.rotated_since < ROTATED_GRACE_S and st is not None:
            return False
        if cur.carry:
            self._emit(cur, [cur.carry], cur.offset)
            cur.carry = b""
        self.close()
        self.rotated_since = None
        if st is not None and self._open(self.path, 0):
            self._submit(self.cur, [], None)
            return True
        return False

    def _consume(self, cur: _Open, data: bytes) -> None:
        self.metrics.read_bytes.labels(self.key).inc(len(data))
        buf = cur.carry + data if cur.carry else data
        cur.offset += len(data)
        cut = buf.rfind(b"\n")
        if cut < 0:
            cur.carry = buf
            return
        cur.carry = buf[cut + 1 :]
        body = buf[:cut]
        if b"\r" in body:
            body = body.replace(b"\r\n", b"\n")
        lines = body.split(b"\n")
        start = cur.offset - len(cur.carry) - cut - 1
        self._emit(cur, lines, cur.committed, start)

    def _emit(self, cur: _Open, lines: list[bytes], end_offset: int, start: int | None = None) -> None:
        self.metrics.read_lines.labels(self.key).inc(len(lines))
        try:
            b"\n".join(lines).decode("utf-8")
        except UnicodeDecodeError:
            lines = [ln.decode("utf-8", "replace").encode() for ln in lines]
        if self.pipeline is None:
            self._submit(cur, [chunk_from_lines(self.label_set, lines, self.stamper)], end_offset)
            return
        entries = []
        pos = start if start is not None else end_offset - sum(len(ln) + 1 for ln in lines)
        for ln in lines:
            e = Entry(ln.decode("utf-8", "replace"), None, dict(self.labels))
            if self.pipeline.holds:
                e.pos = f"{pos}:{cur.dev}:{cur.ino}"
                pos += len(ln) + 1
            entries.append(e)
        self._submit_entries(cur, self.pipeline.process(entries), end_offset)

    def _submit_entries(self, cur: _Open, entries: list[Entry], end_offset: int | None) -> None:
        chunks, dropped = chunks_from_entries(entries, self.stamper)
        if dropped:
            self.metrics.pipeline_dropped.labels("no_labels").inc(dropped)
        self._submit(cur, chunks, end_offset)

    def _submit(self, cur: _Open | None, chunks, end_offset: int | None) -> None:
        if cur is None:
            return
        held = self.pipeline.held_pos() if self.pipeline is not None else None
        pos = held or f"{cur.committed if end_offset is None else end_offset}:{cur.dev}:{cur.ino}"
        self.shipper.submit({self.key: pos}, chunks)
        self.registry.update(self.key, position=pos)

    def flush_held(self, force: bool = False) -> None:
        """Emit multiline blocks that waited long enough (called by the loop between reads)."""
        if self.pipeline is None or not self.pipeline.holds or self.cur is None:
            return
        entries = self.pipeline.flush(time.time_ns(), force)
        if entries:
            self._submit_entries(self.cur, entries, None)


class FileTargets:
    """All file targets of the agent: expands globs every `sync_period`, polls tailers in one thread.

    `root` is where the configured paths live: "/" normally, or the mount of the host's filesystem
    when the agent runs in a container (or a test's temporary directory). Labels and positions
    name files by their configured path, so moving the mount changes nothing downstream.
    """

    def __init__(
        self, scrape_configs, shipper: Shipper, stamper: Stamper, metrics: AgentMetrics,
        registry: TargetRegistry, pipelines: dict[str, Pipeline], sync_period: float = 1.0, root: str = "/",
    ) -> None:
        self.root = os.path.abspath(root)
        self.groups = []  # (job, public labels, glob, exclude glob)
        for sc in scrape_configs:
            relabel = Relabeler(sc.relabel_configs)
            for static in sc.static_configs:
                labels = relabel.apply(dict(static.labels))
                if labels is None or "__path__" not in labels:
                    continue
                self.groups.append((sc.job_name, public(labels), labels["__path__"], labels.get("__path_exclude__")))
        self.shipper, self.stamper, self.metrics, self.registry = shipper, stamper, metrics, registry
        self.pipelines = pipelines
        self.sync_period = sync_period
        self.tailers: dict[str, FileTailer] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sync(self) -> None:
        seen = set()
        for job, labels, pattern, exclude in self.groups:
            excluded = set(glob.glob(self._real(exclude), recursive=True)) if exclude else set()
            for real in glob.glob(self._real(pattern), recursive=True):
                if real in excluded or real in seen or not os.path.isfile(real):
                    continue
                seen.add(real)
                if real not in self.tailers:
                    name = self._name(real)
                    full = {**labels, "filename": name}
                    self.tailers[real] = FileTailer(
                        real, full, self.pipelines.get(job), self.shipper, self.stamper, self.metrics, self.registry
                    )
                    self.registry.put(TargetInfo(name, job, "file", {"__path__": pattern, **labels}, full, "running"))
        for real in list(self.tailers):
            t = self.tailers[real]
            if real not in seen and t.cur is None:
                t.close()
                del self.tailers[real]
                self.registry.remove(t.key)
                self.shipper.submit({t.key: None}, [])  # gone for good: a new file there starts at 0
        self.metrics.files_active.set(len(self.tailers))

    def _real(self, pattern: str) -> str:
        return pattern if self.root == "/" else os.path.join(self.root, pattern.lstrip("/"))

    def _name(self, real: str) -> str:
        return real if self.root == "/" else "/" + os.path.relpath(real, self.root)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="files", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for t in self.tailers.values():
            t.close()

    def _loop(self) -> None:
        next_sync = 0.0
        while not self._stop.is_set() and not self.shipper.stopping:
            now = time.monotonic()
            if now >= next_sync:
                try:
                    self.sync()
                except OSError as exc:
                    log.warning("glob expansion failed: %s", exc)
                next_sync = now + self.sync_period
            busy = False
            for t in list(self.tailers.values()):
                try:
                    busy |= t.poll()
                    t.flush_held()
                    self.registry.update(t.key, state="running", last_error="")
                except OSError as exc:
                    log.warning("reading %s: %s", t.path, exc)
                    self.registry.update(t.key, state="error", last_error=str(exc))
                    t.close()
            if not busy:
                self._stop.wait(0.1)
