"""Giving back what a query decoded once no query runs any more.

A query over a day decodes hundreds of megabytes in passing (line columns, filter masks, samples).
Both allocators keep what it freed for the next allocation: Arrow's pool its pages, and glibc's
malloc (NumPy's arrays, Python objects) the holes in its arenas (one for the
whole server: `limit_arenas`). The server puts Arrow on jemalloc (`use_jemalloc`), with which it
held far less than on Arrow's default, mimalloc, through ingest, compaction and queries. Without a release the server's heap held
~180 MiB more after the bench day's full scan than before it, freed but never returned. When the last running query ends,
a background thread returns it to the OS (`release_freed_memory`), after `delay_s` with no query
running, so that a dashboard's burst of queries is not interrupted by it; the storage's
maintenance thread does the same after a compaction that merged blocks (`after_compaction`).
Not after every flush: an ingest reuses what the last one freed, and purging it cost CPU.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
import time



def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_LIBC = _libc()
_TRIM = getattr(_LIBC, "malloc_trim", None)  # glibc's
_MALLOPT = getattr(_LIBC, "mallopt", None)
_MALLOC = getattr(_LIBC, "malloc", None)
_FREE = getattr(_LIBC, "free", None)
if _MALLOC is not None and _FREE is not None:
    _MALLOC.restype, _MALLOC.argtypes, _FREE.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
_trim_threshold: int | None = None  # set by return_large_frees
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's malloc.h


def tune_server_memory() -> None:
    """The allocator settings of a server process (`logyard serve`, `logyard up`), before pyarrow
    is imported: Arrow on jemalloc, glibc's large frees returned, few malloc arenas."""
    use_jemalloc()
    return_large_frees()
    limit_arenas()


def use_jemalloc() -> bool:
    """Arrow's allocations on its jemalloc pool, unless ARROW_DEFAULT_MEMORY_POOL names another.
    Through that variable, before pyarrow is imported: Arrow's C++ reads it at its first
    allocation, and pyarrow's `set_memory_pool` changes only the pool of calls made from Python
    (Parquet decoding and compute kernels stayed on mimalloc, and most of the gain with them).
    The decode workers inherit it. False (nothing changed) once pyarrow is imported.

    On the bench day against mimalloc (Arrow's default), whole process tree, interleaved runs: f's
    peak PSS 350 -> 253 MiB and its CPU 0.47 -> 0.38 s, the tree after the eight queries 338 ->
    192-214 MiB, the peak through ingest 375-379 -> 305-313 and through flush and compaction
    346-355 -> 295; ingest as fast. (Arrow configures its jemalloc to hand dirty pages back to the
    OS after about a second; mimalloc kept a full scan's pages even past the release after it.)
    A pyarrow built without jemalloc says so on stderr and keeps its default."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") or "pyarrow" in sys.modules:
        return False
    os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "jemalloc"
    return True


def return_large_frees(threshold: int = 8 << 20, trim_threshold: int = 32 << 20) -> bool:
    """glibc malloc in the server process: blocks of `threshold` bytes or more (NumPy's arrays of a
    query: masks, timestamps, samples) are mapped on their own and unmapped when freed. By default
    the threshold follows the largest block freed, up to 32 MiB, so that after the first big query
    such arrays came from the threads' arenas, where a few small blocks left between them kept
    ~50 MiB that `malloc_trim` could not return. A fixed threshold turns that adjustment off. 8 MiB:
    at 1 MiB a full scan cost ~30% more CPU (every array mapped anew, page faults); at 8 MiB the
    CPU measured as with the adjustment. False where mallopt is not glibc's. (The decode workers
    want the opposite: keep_freed_memory.)

    It also turns off the trim threshold's adjustment (twice the mmap threshold), which then stays
    at 128 KiB: each free cut the top of its arena and the next allocation faulted the pages back.
    Flushes and compaction free and reallocate arrays of a few megabytes all the time: on the bench
    day's ingest 8x the page faults of the dynamic thresholds through flush and compaction (1.3
    million, 3-4 s of system time instead of 0.6) and 3x while pushing. Up to `trim_threshold` of
    free memory now stays at an arena's top (~150-380 thousand faults, ~1 s). `malloc_trim` does not
    cut the top of a thread's own arena: there up to that much may stay after a query
    (`release_freed_memory` cuts the calling thread's: the maintenance thread's after a compaction)."""
    global _trim_threshold
    if _MALLOPT is None or not _MALLOPT(M_MMAP_THRESHOLD, threshold) or not _MALLOPT(M_TRIM_THRESHOLD, trim_threshold):
        return False
    _trim_threshold = trim_threshold
    return True


def limit_arenas(arenas: int = 1) -> bool:
    """glibc malloc in the server process: at most `arenas` arenas, instead of one for each thread
    that allocates up to 8 a core. Every thread of the server allocates (the event loop, the
    pushes' threads, flushes, queries' window reads) and each arena keeps up to the trim threshold
    of freed memory at its top (return_large_frees): ~36 MiB lay free across the arenas after the
    bench day's pushes. Sharing one costs little: the threads take turns at the GIL, and Arrow's
    buffers come from jemalloc. Bench day, whole process tree, against glibc's default, medians of
    6 interleaved runs each: push-phase peak PSS 251 against 260 MiB, flush and compaction 234
    against 241, settled 110 against 116, lines/s the same; after the eight queries of
    bench/query.py 119-120 against 135-140 MiB; f in process 398-436 against 451-459 ms of CPU (a
    warm arena instead of one per window thread). A MALLOC_ARENA_MAX in the environment is kept.
    False where mallopt is not glibc's."""
    if os.environ.get("MALLOC_ARENA_MAX") or _MALLOPT is None:
        return False
    return bool(_MALLOPT(M_ARENA_MAX, arenas))


def release_freed_memory() -> None:
    """Return the memory both allocators hold freed to the OS (glibc's `malloc_trim`: every arena,
    holes included, not only the top; Arrow's pool through its `release_unused`: jemalloc purges its
    arenas), and the
    top of the calling thread's arena (`_trim_own_arena`)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)
    _trim_own_arena()


def _trim_own_arena() -> None:
    """The top of the calling thread's arena, which `malloc_trim` leaves to the trim threshold
    (return_large_frees): glibc cuts an arena's top when a large block is freed into it, so one is
    freed while the threshold is low for a moment (the maintenance thread's arena, after the
    compaction that filled it)."""
    if _trim_threshold is None or _MALLOC is None or _FREE is None or _MALLOPT is None:
        return
    _MALLOPT(M_TRIM_THRESHOLD, 128 << 10)  # glibc's default
    try:
        _FREE(_MALLOC(256 << 10))
    finally:
        _MALLOPT(M_TRIM_THRESHOLD, _trim_threshold)


class QueryMemory:
    """Counts running queries; once none runs for `delay_s`, releases the freed memory once.

    One watcher thread, started with the first query's end, waits for the quiet spells: a timer
    thread started at each query's end cost the event loop ~0.3-1 ms a query (the start waits for
    the new thread to run), before the answer was sent."""

    def __init__(self, delay_s: float = 0.05, release=release_freed_memory) -> None:
        self.delay_s = delay_s
        self._release = release
        self._cond = threading.Condition()
        self._running = 0
        self._quiet_since: float | None = None  # when the last query ended; None: running, or released
        self._watcher: threading.Thread | None = None
        self._asleep = False  # the watcher waits for a quiet spell to begin (needs a notify)
        self.releases = 0

    def started(self) -> None:
        with self._cond:
            self._running += 1
            self._quiet_since = None

    def ended(self) -> None:
        with self._cond:
            self._running -= 1
            if self._running:
                return
            self._quiet_since = time.monotonic()
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="logyard-query-memory", daemon=True)
                self._watcher.start()
            elif self._asleep:
                self._cond.notify()

    def _watch(self) -> None:
        while True:  # one step per quiet spell, or per query that cut one short
            with self._cond:
                while self._quiet_since is None:
                    self._asleep = True
                    self._cond.wait()
                self._asleep = False
                left = self._quiet_since + self.delay_s - time.monotonic()
                if left > 0:
                    self._cond.wait(left)  # a query may start (and end) meanwhile: look again
                    continue
                self._quiet_since = None
                self.releases += 1
            self._release()
