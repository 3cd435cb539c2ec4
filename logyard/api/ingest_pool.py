"""Push decoding in worker processes, so that ingest uses every core despite the GIL.

A worker takes the raw body and does all the per-line work — gunzip, JSON/protobuf parsing,
`detected_level`, the sample-age limits and the Arrow encoding of the WAL record — and hands back
one bytes payload. The server process only writes that payload to the WAL and appends it to the
head (`Store.append_prepared`), which costs a fraction of a microsecond per line.
"""

from __future__ import annotations

import itertools
import logging
import mmap
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from logyard.errors import LogyardError

if TYPE_CHECKING:
    from logyard.ingest.otlp_map import OtlpRules

log = logging.getLogger(__name__)

# Workers hand payloads over as files here (tmpfs) when it exists; see DecodePool.
SHM_DIR = Path("/dev/shm")


@dataclass(frozen=True)
class DecodeOptions:
    max_line_size: int
    discover_service_name: tuple[str, ...]
    discover_log_levels: bool
    max_age_ns: int | None
    grace_ns: int
    max_decompressed_size: int = 100 << 20  # distributor.max_decompressed_size; 0: no limit
    # The tenant's limits_config checks (validate.py), Loki's defaults.
    max_label_names_per_series: int = 15
    max_label_name_length: int = 1024
    max_label_value_length: int = 2048
    max_structured_metadata_size: int = 65536
    max_structured_metadata_count: int = 128
    max_line_size_truncate: bool = False
    otlp: OtlpRules | None = None  # set: the body is an OTLP logs request (/otlp/v1/logs), mapped by these rules


@dataclass
class Decoded:
    """What a worker answers: the WAL payload, counts for metrics, or the client error to raise."""

    payload: bytes | None
    lines: int = 0
    bytes: int = 0
    discarded: dict[str, int] = field(default_factory=dict)
    discarded_bytes: dict[str, int] = field(default_factory=dict)
    error: tuple[int, str] | None = None  # (status, Loki's text); raised after storing the payload
    truncated: int = 0  # lines cut to max_line_size, and the bytes cut off (loki_mutated_*)
    truncated_bytes: int = 0
    shm: str | None = None  # the payload is in this file of SHM_DIR instead (DecodePool.payload)
    shm_size: int = 0


def decode_body(tenant: str, body: bytes | bytearray, ctype: str | None, cenc: str | None, opts: DecodeOptions) -> Decoded:
    """Pure: body → Decoded. Runs in a worker process (or inline when there is no pool)."""
    from logyard.ingest.decode import BodyColumns, decode_otlp_push, decode_push_columns
    from logyard.ingest.sample_age import filter_sample_age
    from logyard.storage.wal import prepare_append, prepare_columns

    now = time.time_ns()
    # The sample-age limits, so that a body with every timestamp in range skips filter_sample_age.
    ts_range = (now - opts.max_age_ns if opts.max_age_ns else None, now + opts.grace_ns)
    limits = dict(max_line_size=opts.max_line_size, discover_service_name=list(opts.discover_service_name),
                  discover_log_levels=opts.discover_log_levels, max_decompressed_size=opts.max_decompressed_size,
                  max_label_names_per_series=opts.max_label_names_per_series,
                  max_label_name_length=opts.max_label_name_length,
                  max_label_value_length=opts.max_label_value_length,
                  max_structured_metadata_size=opts.max_structured_metadata_size,
                  max_structured_metadata_count=opts.max_structured_metadata_count,
                  max_line_size_truncate=opts.max_line_size_truncate)
    try:
        if opts.otlp is not None:
            res = decode_otlp_push(body, ctype, cenc, opts.otlp, now, **limits)
        else:
            res = decode_push_columns(body, ctype, cenc, ts_range, **limits)
    except LogyardError as exc:
        return Decoded(None, error=(exc.status, exc.message))
    if isinstance(res, BodyColumns):
        return Decoded(prepare_columns(tenant, res.labels, res.counts, res.ts, res.lines, res.meta),
                       len(res.ts), res.line_bytes)
    streams, too_old, age_error = filter_sample_age(res.streams, now, opts.max_age_ns, opts.grace_ns)
    discarded = dict(res.discarded_lines)
    for reason, n in too_old.items():
        discarded[reason] = discarded.get(reason, 0) + n
    error = res.error or age_error
    return Decoded(prepare_append(tenant, streams), res.lines, res.bytes, discarded, dict(res.discarded_bytes),
                   (error.status, error.message) if error is not None else None, truncated=res.truncated_lines,
                   truncated_bytes=res.truncated_bytes)


_SEQ = itertools.count()


def _decode_to_shm(prefix: str, *args) -> Decoded:
    """`decode_body` in a worker, its payload written to a new file of SHM_DIR (one copy into
    tmpfs) rather than pickled through the pool's pipe (a pickle copy, the 64 KiB pipe, and three
    copies in the server's result thread: ~0.7 CPU-s of the server per bench/ingest.py run)."""
    d = decode_body(*args)
    if d.payload is None:
        return d
    name = f"{prefix}{os.getpid()}-{next(_SEQ)}"
    path = SHM_DIR / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return d  # no tmpfs to write to: through the pipe
    try:
        view, written = memoryview(d.payload), 0
        while written < len(view):
            written += os.write(fd, view[written:])
    except OSError:  # full: through the pipe
        os.unlink(path)
        return d
    finally:
        os.close(fd)
    d.shm, d.shm_size, d.payload = name, len(view), None
    return d


def _warm(nice: int = 0, server_pid: int | None = None) -> None:
    """Import the decoding modules once per worker, before the first push waits on it; lower the
    worker's priority by `nice`.

    Why the workers yield: a push is decoded in parallel, but its WAL write, head insert and the
    flushes that turn the head into blocks run in the server process, one at a time. When the
    workers took an equal share of 2 cores, a 32 MiB flush took 0.42 s of wall time for 0.16 s
    of CPU, the head outgrew it, and back-pressure held all 4 clients of bench/ingest.py about a
    quarter of the time. At nice 10 the flush takes ~0.27 s and back-pressure almost never starts.
    """
    import gc

    import logyard.ingest.decode  # noqa: F401
    import logyard.storage.wal  # noqa: F401

    if nice:
        os.nice(nice)
    if server_pid is not None:
        threading.Thread(target=_exit_with, args=(server_pid,), name="server-watch", daemon=True).start()
    use_system_allocator()
    keep_freed_memory()
    gc.freeze()  # the imported modules are permanent: keep collections from walking them


def _exit_with(server_pid: int, every_s: float = 1.0) -> None:
    """End this worker once the server is gone. After a `kill -9` of the server nothing else would:
    a worker holds both ends of its task queue (so never reads EOF): each crash left the workers
    (and, when they were forked by a forkserver, it too) and ~250 MB behind."""
    while True:
        time.sleep(every_s)
        if not process_alive(server_pid):
            os._exit(0)


def process_alive(pid: int, proc: Path = Path("/proc")) -> bool:
    """Whether process `pid` still runs. `os.kill(pid, 0)` alone also succeeds on a process that has
    exited but that its parent has not reaped yet (a zombie): a server that exited while whoever
    started it is still reading its stderr, which the workers hold open, so that reader waited on
    them. Where `proc` is a procfs, the state letter of `<proc>/<pid>/stat` tells: Z or X is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive under another user: cannot be ours, but not gone either
    try:
        stat = (proc / str(pid) / "stat").read_bytes()
    except FileNotFoundError:
        return not proc.is_dir()  # reaped since os.kill, unless there is no procfs at all
    except OSError:
        return True
    # "pid (comm) S ...": the command name may itself hold spaces and parentheses, the state follows the last ")".
    return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X")


def _started() -> int:
    time.sleep(0.05)
    return os.getpid()


def use_system_allocator() -> None:
    """Arrow on malloc in the decode workers: it hands freed memory back to the OS sooner. Not in the
    server process: there it made every Parquet read of a query pay fresh page faults (2x slower)."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 64 << 20) -> bool:
    """glibc malloc in the decode workers: keep freed blocks for the next body instead of handing
    them back to the OS. Each body allocates and frees several megabytes (gunzipped text, line and
    metadata buffers, the WAL payload); by default blocks over 128 KiB are mmapped and the heap
    top is trimmed on free, so every body paid fresh page faults: a quarter of a worker's CPU
    went to the kernel (perf), and decode_body cost ~2.6 us/line instead of ~1.8. A worker now
    keeps at most `trim_threshold` of free memory (16 or 4 MiB instead of 64 left the push phase's
    peak PSS of the whole tree where it was, 270-278 MiB in 3 interleaved bench/ingest.py runs
    each, and lines/s no higher). False where mallopt is not glibc's."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, mmap_threshold)) and bool(mallopt(m_trim_threshold, trim_threshold))


def default_workers(cores: int | None = None) -> int:
    """One decode process per core but one, at least one: the server process keeps a core busy
    itself (WAL writes, the head, flushes). On the bench day's ingest with two cores, one worker
    took as many lines/s as two (the server process was the bottleneck) and ~75 MiB less memory."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, cores - 1)


def _remove_orphans() -> None:
    """Payload files of servers that died (kill -9) with requests in flight."""
    for path in SHM_DIR.glob("logyard-*-*"):
        try:
            os.kill(int(path.name.split("-")[1]), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except (ValueError, OSError):
            pass  # not ours, or a live process we may not signal


class DecodePool:
    """A process pool for `decode_body`; `workers=0` decodes inline (tests, tiny machines).

    Workers that have had nothing to decode for `idle_s` seconds exit (the pool is shut down; None:
    they stay). Workers start at the first push, not with the server, and again at the first push
    after they exited; that push waits for them (~0.5 s). Decoding it in the server instead left
    the memory of the first pushes' decoding in the server's heap (~100 MiB on the bench day's
    four clients). An idle worker holds ~70 MiB (PSS) of its own imports, as
    much as an idle server; starting one costs ~0.5 CPU-s of imports. They are spawned, each its own
    interpreter: a forkserver preloaded with the modules would share them between workers, but it
    stays, so it would hold their ~55 MiB for good, and with one worker (two cores: the server
    process itself keeps one busy) sharing saves nothing.

    Payloads come back as files of SHM_DIR when it is a directory (`use_shm`): the server maps the
    file, unlinks it at once, and the WAL write and the head read the mapping. Whoever gets a
    Decoded from `submit`'s future takes its payload with `payload` exactly once, or hands the
    future to `discard`; `shutdown` removes the files of requests cut short, and a new pool those
    of servers that died (the files are named after the server's pid).
    """

    def __init__(self, workers: int | None = None, use_shm: bool | None = None, nice: int = 0,
                 idle_s: float | None = None) -> None:
        if workers is None:
            workers = default_workers()
        self.workers = workers
        self.idle_s = idle_s
        self.nice = nice
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._busy = 0  # tasks submitted and not done
        self._last_done = time.monotonic()
        self._closed = threading.Event()
        self._prefix = f"logyard-{os.getpid()}-"
        self.use_shm = SHM_DIR.is_dir() if use_shm is None else use_shm
        if self.use_shm:
            _remove_orphans()
        if workers > 0:
            # Not fork: the server has threads (uvicorn, the store's maintenance) by now. Spawn, not
            # forkserver: the forkserver is one more process (~7 MiB PSS, staying for good) and,
            # with nothing preloaded in it, saved a worker nothing; the bench day's push phase
            # peaked at 274-278 MiB (whole tree) instead of 285-314, lines/s the same.
            self._ctx = multiprocessing.get_context("spawn")
            if idle_s is not None:
                threading.Thread(target=self._reap_idle, name="decode-idle", daemon=True).start()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=self._ctx, initializer=_warm,
                                   initargs=(self.nice, os.getpid()))

    def _submit(self, fn, *args) -> Future:
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the decode pool is shut down")
            if self._pool is None:
                self._pool = self._new_pool()
            self._busy += 1
            try:
                future = self._pool.submit(fn, *args)
            except BaseException:
                self._busy -= 1
                raise
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future) -> None:
        with self._lock:
            self._busy -= 1
            self._last_done = time.monotonic()

    def stop_if_idle(self, now: float | None = None) -> bool:
        """End the workers when nothing was decoded for `idle_s` and nothing is in flight."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if (self._pool is None or self._busy or self.idle_s is None
                    or now - self._last_done < self.idle_s):
                return False
            pool, self._pool = self._pool, None
        pool.shutdown(wait=True)  # no task of its is pending: the workers just exit
        return True

    def _reap_idle(self) -> None:
        every = max(0.1, min(self.idle_s or 1.0, 5.0) / 2)
        while not self._closed.wait(every):
            self.stop_if_idle()

    def worker_pids(self) -> set[int]:
        """The worker processes running now (none while the pool idles)."""
        with self._lock:
            return set(self._pool._processes or ()) if self._pool is not None else set()

    def start_workers(self, timeout: float = 300.0) -> set[int]:
        """Start every worker and wait until each has run its `_warm` (imports), before any push
        (which would otherwise start them and wait ~0.5 s for the imports). Returns their pids."""
        seen: set[int] = set()
        deadline = time.monotonic() + timeout
        while self.workers > 0 and len(seen) < self.workers:  # a few rounds of 50 ms
            # A busy submit spawns a worker; a task that lasts a moment lets the others reach one.
            futures = [self._submit(_started) for _ in range(self.workers)]
            seen.update(f.result(timeout=max(0.0, deadline - time.monotonic())) for f in futures)
        return seen

    def submit(self, *args) -> Future | None:
        """The future of `decode_body(*args)` in a worker (started if none runs), or None: no
        workers, decode inline."""
        if self.workers == 0:
            return None
        if self.use_shm:
            return self._submit(_decode_to_shm, self._prefix, *args)
        return self._submit(decode_body, *args)

    @staticmethod
    def payload(d: Decoded):
        """The WAL payload of `d` (bytes, or a read-only mapping of its file), or None."""
        if d.shm is None:
            return d.payload
        path = SHM_DIR / d.shm
        fd = os.open(path, os.O_RDONLY)
        try:
            os.unlink(path)
            return mmap.mmap(fd, d.shm_size, prot=mmap.PROT_READ)
        finally:
            os.close(fd)

    @staticmethod
    def discard(future: Future) -> None:
        """Drop the payload file of a result nobody will take (its request was cancelled)."""
        if future.cancelled() or future.exception() is not None:
            return
        d = future.result()
        if d.shm is not None:
            try:
                os.unlink(SHM_DIR / d.shm)
            except FileNotFoundError:
                pass

    def shutdown(self) -> None:
        self._closed.set()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self.use_shm:
            for path in SHM_DIR.glob(self._prefix + "*"):  # left by requests cut short
                log.warning("removing a decoded payload nobody took: %s", path)
                path.unlink(missing_ok=True)
