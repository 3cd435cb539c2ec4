"""Soak benchmark: a steady multi-tenant push rate with queries and live tails, for minutes on end.

By default 10 minutes at 50,000 lines/s over 50 tenants and 5,000 streams (100 compose-like streams a
tenant, lines from ../shared/conformance/gen_corpus.py's makers), 2 queries/s (a filtered log query, a
`sum by (...) (count_over_time(...[1m]))` range query, labels) and 3 live tails, against a fresh
`logyard serve` with auth_enabled (each tenant its X-Scope-OrgID) or an existing server (--url).

Prints a row a minute: lines/s acknowledged, how far the pushes run behind their schedule, the time
from push to queryable (a marker line pushed every 10 s and polled for), query latency percentiles by
kind, tail lines, the server's RSS/PSS and data dir (blocks, WAL), the server's and the generator's CPU.
Then a summary with the 10 s samples and a verdict: the growth per minute of RSS, PSS and the data dir
(blocks + WAL) over the first and the last third of the run, and whether each levels off.

The server it starts keeps minutes, not days (--retention 3m, --block-window 1m, --settle 30s,
--compaction-interval 30s, --delete-delay 10s), so that within the run retention removes as much as
ingest adds and settled windows are compacted: the table shows the lines retention removes a second
(ret/s) and the on-disk bytes a line byte of the compacted windows (cmp).

The generator shares the machine's cores with the server, so it is cheap by construction: each body
is a pre-rendered JSON template of one second of one tenant, split at its timestamps' seconds digits
(the nanosecond digits are fixed in the template); a push is one bytes join with the slot's second,
one ISA-L gzip at level 1 and one keep-alive POST (http.client, see bench/ingest.py push_all). Its own
CPU (the sender threads' thread_time) is printed apart from the whole bench process's.

Exit status 1 when a push answers anything but 2xx or 429, a query answers a 4xx other than 429,
or a tail misses lines (dropped_entries, or a second of its tenant with fewer lines than were pushed).
"""

from __future__ import annotations

import argparse
import http.client
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import numpy as np
import orjson
from isal import igzip

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cpu_seconds, disk_usage, memory_mib  # noqa: E402
from tests.support.paths import shared_file  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

sys.path.insert(0, str(shared_file("conformance", "gen_corpus.py").parent))
import gen_corpus as gc  # noqa: E402  (the conformance corpus' line makers; only read from)

NS = 1_000_000_000
SEC_MARK = "@@SEC@@"  # where a template's timestamps take the slot's second (10 digits in this era)
SAMPLE_S = 10.0
VARIANTS = 8  # distinct one-second bodies; tenant j sends variant (slot + j) % VARIANTS
# The server the soak starts keeps minutes, not days: retention, block windows, compaction's settle
# time and the retention pass scaled down so that retention removes as much as ingest adds, and
# windows are compacted, well within the 10 minutes (flags --retention, --block-window, --settle,
# --compaction-interval, --delete-delay). logyard takes a retention period under Loki's 24h minimum
# (Loki's index tables are a day long; logyard's block windows are the storage.block_window).
SERVER_CONFIG = """\
auth_enabled: true
storage:
  block_window: {block_window}
  head_max_age: {settle}
limits:
  retention_period: {retention}
compactor:
  compaction_interval: {compaction_interval}
  retention_delete_delay: {delete_delay}
"""
# (label, value) of each tail's selector, cycled; one tenant each.
TAIL_SELECTORS = [("compose_service", "nginx"), ("compose_service", "ollama"), ("job", "varlogs")]
LOG_QUERIES = [("nginx", "GET"), ("ollama", "level=WARN"), ("postgres", "ERROR"), ("open-webui", "error"),
               ("grafana", "status=500"), ("loki", "level=warn")]
METRIC_QUERY = 'sum by (compose_service) (count_over_time({compose_project="aixcl"}[1m]))'
ACCEPTED_QUERY_FAILURES = (429, 503, 504)  # overload answers: counted, not fatal


# ---------------------------------------------------------------------------------------------- workload

def stream_labels(n: int) -> list[tuple[dict, gc.StreamSpec]]:
    """n streams of a tenant: the corpus' 25 stream kinds, each in ceil(n / 25) replicas (gen_bench's naming)."""
    kinds = len(gc.STREAMS)
    replicas = -(-n // kinds)
    out = []
    for i in range(n):
        spec, k = gc.STREAMS[i % kinds], i // kinds
        labels = dict(spec.labels)
        if "container" in labels:
            orig = int(labels["container"].rsplit("-", 1)[1])
            labels["container"] = f"{gc.PROJECT}-{labels['compose_service']}-{(orig - 1) * replicas + k + 1}"
        else:
            labels["host"] = "aixcl-host" if k == 0 else f"aixcl-host-{k + 1}"
        out.append((labels, spec))
    return out


@dataclass
class Variant:
    """One second of one tenant's traffic, rendered once; `parts` joined with the second is the JSON body."""

    parts: list[bytes]
    lines: int
    line_bytes: int
    per_stream: list[int]  # lines of each stream


def build_variants(streams: list[tuple[dict, gc.StreamSpec]], lines_per_body: int, seed: int = 7) -> list[Variant]:
    """Lines spread over the streams by the corpus' rates (every stream at least one line a second when
    there are enough lines), timestamps at distinct random nanoseconds of the second."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    weights = np.array([max(spec.rate, 0.05) for _, spec in streams])
    weights /= weights.sum()
    base = 1 if lines_per_body >= len(streams) else 0
    states: list[dict] = [{} for _ in streams]
    start_ns = time.time_ns() // NS * NS
    out = []
    for _ in range(VARIANTS):
        counts = base + nrng.multinomial(lines_per_body - base * len(streams), weights)
        body_streams, line_bytes = [], 0
        for (labels, spec), st, count in zip(streams, states, counts.tolist()):
            if not count:
                continue
            values = []
            for frac in sorted(rng.sample(range(NS), count)):
                line, sm = spec.maker(rng, start_ns + frac, st)
                line_bytes += len(line.encode())
                values.append([f"{SEC_MARK}{frac:09d}", line, sm] if sm else [f"{SEC_MARK}{frac:09d}", line])
            body_streams.append({"stream": labels, "values": values})
        raw = orjson.dumps({"streams": body_streams})
        out.append(Variant(raw.split(SEC_MARK.encode()), int(counts.sum()), line_bytes, counts.tolist()))
    return out


# ---------------------------------------------------------------------------------------------- the run

class Client:
    """One keep-alive connection that reconnects once when the server has closed it while idle (uvicorn
    closes connections idle for 5 s; a request that met a closed connection was never read, so it is
    sent again)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=120)

    def request(self, method: str, path: str, headers: dict, body: bytes | None = None) -> tuple[int, bytes]:
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def percentiles(values, qs=(50, 90, 99)) -> list[float] | None:
    return np.percentile(np.asarray(values, dtype=float), qs).tolist() if len(values) else None


@dataclass
class Tail:
    tenant_index: int
    selector: tuple[str, str]
    per_second: Counter = field(default_factory=Counter)
    lines: int = 0
    dropped: int = 0
    error: str | None = None


@dataclass
class Sample:
    t: float
    rss: float | None
    pss: float | None
    data: int | None
    wal: int | None
    server_cpu: float | None
    sender_cpu: float
    bench_cpu: float
    lines: int
    line_bytes: int
    tail_lines: int
    tail_dropped: int
    compacted_bytes: float | None = None  # the server's block files written by compaction
    compacted_line_bytes: float | None = None  # and the line text in them
    retained_out: float | None = None  # lines retention removed so far


class Soak:
    def __init__(self, args, url: str, pid: int | None, data_dir: Path | None) -> None:
        self.args = args
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.pid, self.data_dir = pid, data_dir
        self.tenants = [f"tenant-{j:02d}" for j in range(args.tenants)]
        self.streams = stream_labels(args.streams // args.tenants)
        self.lines_per_body = max(1, round(args.rate / args.tenants))
        self.variants = build_variants(self.streams, self.lines_per_body)
        self.stop = threading.Event()       # the run is over (duration, ctrl-C or a failure)
        self.tails_stop = threading.Event()
        self.lock = threading.Lock()
        self.next_body = 0
        self.next_query = 0
        # events, appended from the worker threads (list.append is atomic)
        self.pushes: list[tuple[float, int, int, int, float, float]] = []  # t, lines, bytes, status, behind, s
        self.queries: list[tuple[float, str, float, int]] = []  # t, kind, seconds, status
        self.markers: list[tuple[float, float | None]] = []  # t, push-to-queryable seconds (None: not seen)
        self.samples: list[Sample] = []
        self.failures: list[str] = []
        self.rejected: set[tuple[int, int]] = set()  # (tenant, slot) answered 429
        self.last_acked: dict[int, int] = {}  # tenant -> newest slot acknowledged
        self.acked_lines = self.acked_bytes = 0
        self.sender_cpu: dict[int, float] = {}
        self.tails = [Tail((i * args.tenants) // max(args.tails, 1), TAIL_SELECTORS[i % len(TAIL_SELECTORS)])
                      for i in range(args.tails)]
        self.t0 = self.sec0 = 0.0
        self.metrics_conn = self.connection()  # the sampler's own, for /metrics
        self.t_end = 0.0

    # -- plumbing
    def fail(self, what: str) -> None:
        if not self.stop.is_set():
            self.failures.append(what)
            print(f"FAIL: {what}", file=sys.stderr, flush=True)
            self.stop.set()

    def connection(self) -> Client:
        return Client(self.host, self.port)

    def expected(self, tail: Tail, slot: int) -> int:
        """Lines of the tail's selector in the body its tenant sent for `slot`."""
        v = self.variants[(slot + tail.tenant_index) % VARIANTS]
        key, value = tail.selector
        return sum(n for (labels, _), n in zip(self.streams, v.per_stream) if labels.get(key) == value)

    # -- workers
    def sender(self, idx: int) -> None:
        """Bodies in schedule order: slot s of tenant j is due at t0 + s + j / tenants and carries the
        timestamps of the second before (so a tail with delay_for=0 releases them at once)."""
        conn = self.connection()
        ntenants = len(self.tenants)
        try:
            while not self.stop.is_set():
                with self.lock:
                    k = self.next_body
                    self.next_body += 1
                slot, j = divmod(k, ntenants)
                due = self.t0 + slot + j / ntenants
                if due >= self.t_end or self.stop.wait(max(0.0, due - time.monotonic())):
                    return
                start = time.monotonic()
                v = self.variants[(slot + j) % VARIANTS]
                body = igzip.compress(str(self.sec0 + slot - 1).encode().join(v.parts), 1)
                try:
                    status, text = conn.request("POST", "/loki/api/v1/push", body=body, headers={
                        "Content-Type": "application/json", "Content-Encoding": "gzip",
                        "X-Scope-OrgID": self.tenants[j]})
                except (OSError, http.client.HTTPException) as e:
                    self.fail(f"push {self.tenants[j]} slot {slot}: {type(e).__name__}: {e}")
                    return
                now = time.monotonic()
                self.pushes.append((now, v.lines, v.line_bytes, status, start - due, now - start))
                if status == 429:
                    self.rejected.add((j, slot))
                elif 200 <= status < 300:
                    with self.lock:
                        self.acked_lines += v.lines
                        self.acked_bytes += v.line_bytes
                        self.last_acked[j] = max(self.last_acked.get(j, -1), slot)
                else:
                    self.fail(f"push {self.tenants[j]} slot {slot}: {status} {text[:300]!r}")
                self.sender_cpu[idx] = time.thread_time()
        finally:
            self.sender_cpu[idx] = time.thread_time()
            conn.close()

    def get(self, conn: Client, path: str, tenant: str) -> tuple[int, bytes]:
        return conn.request("GET", path, headers={"X-Scope-OrgID": tenant})

    def query_for(self, i: int) -> tuple[str, str, str]:
        """The i-th query: kinds in turn, tenants in turn, over the last 5 minutes (labels: the last hour)."""
        kind = ("log", "metric", "labels")[i % 3]
        tenant = self.tenants[(i // 3 * 7) % len(self.tenants)]
        end = time.time_ns()
        if kind == "log":
            service, word = LOG_QUERIES[(i // 3) % len(LOG_QUERIES)]
            params = {"query": f'{{compose_service="{service}"}} |= "{word}"', "limit": 100,
                      "start": end - 300 * NS, "end": end, "direction": "backward"}
            return kind, tenant, "/loki/api/v1/query_range?" + urlencode(params, quote_via=quote)
        if kind == "metric":
            params = {"query": METRIC_QUERY, "start": end - 300 * NS, "end": end, "step": 30}
            return kind, tenant, "/loki/api/v1/query_range?" + urlencode(params, quote_via=quote)
        return kind, tenant, "/loki/api/v1/labels?" + urlencode({"start": end - 3600 * NS, "end": end})

    def querier(self) -> None:
        conn = self.connection()
        try:
            while not self.stop.is_set():
                with self.lock:
                    i = self.next_query
                    self.next_query += 1
                due = self.t0 + i / self.args.queries_per_s
                if due >= self.t_end or self.stop.wait(max(0.0, due - time.monotonic())):
                    return
                kind, tenant, path = self.query_for(i)
                start = time.monotonic()
                try:
                    status, text = self.get(conn, path, tenant)
                except (OSError, http.client.HTTPException) as e:
                    self.fail(f"{kind} query: {type(e).__name__}: {e}")
                    return
                self.queries.append((time.monotonic(), kind, time.monotonic() - start, status))
                if status != 200 and (status not in ACCEPTED_QUERY_FAILURES and status < 500):
                    self.fail(f"{kind} query {path}: {status} {text[:300]!r}")
        finally:
            conn.close()

    def marker(self) -> None:
        """Every SAMPLE_S a unique line into tenant 0's {soak="marker"}, polled for until a query finds it."""
        conn = self.connection()
        tenant = self.tenants[0]
        n = 0
        try:
            while not self.stop.wait(SAMPLE_S / 2 if n == 0 else SAMPLE_S):
                token = f"soak-marker-{n}-{random.getrandbits(32):08x}"
                n += 1
                ns = time.time_ns()
                body = orjson.dumps({"streams": [{"stream": {"soak": "marker"}, "values": [[str(ns), token]]}]})
                start = time.monotonic()
                status, text = conn.request("POST", "/loki/api/v1/push", body=body,
                                            headers={"Content-Type": "application/json", "X-Scope-OrgID": tenant})
                if not 200 <= status < 300:
                    if status != 429:
                        self.fail(f"marker push: {status} {text[:300]!r}")
                    continue
                params = {"query": f'{{soak="marker"}} |= "{token}"', "limit": 1,
                          "start": ns - NS, "end": ns + 60 * NS}
                path = "/loki/api/v1/query_range?" + urlencode(params, quote_via=quote)
                seen = None
                while not self.stop.is_set() and time.monotonic() - start < 60:
                    status, text = self.get(conn, path, tenant)
                    if status == 200 and token.encode() in text:
                        seen = time.monotonic() - start
                        break
                    time.sleep(0.1)
                self.markers.append((time.monotonic(), seen))
        except (OSError, http.client.HTTPException) as e:
            self.fail(f"marker: {type(e).__name__}: {e}")
        finally:
            conn.close()

    def tail(self, tail: Tail, ready: threading.Event) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        key, value = tail.selector
        params = {"query": f'{{{key}="{value}"}}', "delay_for": 0, "limit": 1, "start": time.time_ns()}
        url = f"ws://{self.host}:{self.port}/loki/api/v1/tail?" + urlencode(params, quote_via=quote)
        tenant = self.tenants[tail.tenant_index]
        try:
            with connect(url, additional_headers={"X-Scope-OrgID": tenant}, compression=None,
                         max_size=None, open_timeout=30) as ws:
                ready.set()
                while not self.tails_stop.is_set():
                    try:
                        frame = orjson.loads(ws.recv(timeout=0.5))
                    except TimeoutError:
                        continue
                    for stream in frame["streams"]:
                        for value_ in stream["values"]:
                            tail.per_second[int(value_[0][:-9])] += 1
                            tail.lines += 1
                    tail.dropped += len(frame.get("dropped_entries") or ())
        except (OSError, ConnectionClosed) as e:
            tail.error = f"{type(e).__name__}: {e}"
            self.fail(f"tail {tenant} {params['query']}: {tail.error}")
        finally:
            ready.set()

    # -- sampling and printing
    def sample(self) -> Sample:
        rss = pss = server_cpu = None
        data = wal = None
        if self.pid:
            rss, pss = memory_mib(self.pid)
            server_cpu = cpu_seconds(self.pid)
        if self.data_dir:
            data, wal = disk_usage(self.data_dir)
        s = Sample(time.monotonic() - self.t0, rss, pss, data, wal, server_cpu, sum(self.sender_cpu.values()),
                   time.process_time(), self.acked_lines, self.acked_bytes, sum(t.lines for t in self.tails),
                   sum(t.dropped for t in self.tails), *self.storage_metrics())
        self.samples.append(s)
        return s

    def storage_metrics(self) -> tuple[float | None, float | None, float | None]:
        """The server's compacted block bytes, their line bytes and the lines retention removed, from
        /metrics (logyard_storage_compacted_*, logyard_retention_deleted_lines_total); None if unread."""
        want = {"logyard_storage_compacted_block_bytes": 0, "logyard_storage_compacted_line_bytes": 1,
                "logyard_retention_deleted_lines_total": 2}
        out: list[float | None] = [None, None, None]
        try:
            status, text = self.metrics_conn.request("GET", "/metrics", headers={})
        except (OSError, http.client.HTTPException):
            return None, None, None
        if status != 200:
            return None, None, None
        for line in text.decode().splitlines():
            name, _, value = line.partition(" ")
            i = want.get(name.split("{", 1)[0])
            if i is not None:
                out[i] = (out[i] or 0.0) + float(value.split()[0])
        if out[2] is None and out[0] is not None:
            out[2] = 0.0  # no tenant has lost a line to retention yet
        return out[0], out[1], out[2]

    HEADER = (f"{'min':>4} {'lines/s':>8} {'MB/s':>5} {'429':>4} {'behind':>7} {'push ms':>10} {'mark ms':>7} "
              f"{'log ms p50/90/99':>17} {'metric ms p50/90/99':>20} {'labels ms p50/90/99':>19} {'q/s':>4} "
              f"{'tail/s':>6} {'drop':>4} {'RSS':>6} {'PSS':>6} {'data MB':>8} {'WAL MB':>7} {'srv cpu':>7} "
              f"{'gen cpu':>7} {'ret/s':>7} {'cmp':>5}")

    def row(self, label: str, a: Sample, b: Sample) -> str:
        t_lo, t_hi = self.t0 + a.t, self.t0 + b.t
        wall = max(b.t - a.t, 1e-9)
        pushes = [p for p in self.pushes if t_lo < p[0] <= t_hi]
        queries = [q for q in self.queries if t_lo < q[0] <= t_hi]
        marks = [m[1] for m in self.markers if t_lo < m[0] <= t_hi]

        def lat(kind: str) -> str:
            p = percentiles([q[2] * 1000 for q in queries if q[1] == kind])
            return "-" if p is None else "/".join(f"{x:.0f}" for x in p)

        behind = max((p[4] for p in pushes), default=0.0)
        push_ms = percentiles([p[5] * 1000 for p in pushes], (50, 99))
        mark = "-" if not marks else ("lost" if None in marks else f"{max(marks) * 1000:.0f}")
        srv = "-" if b.server_cpu is None else f"{(b.server_cpu - a.server_cpu) / wall:.0%}"
        mib = lambda x: "-" if x is None else f"{x:.0f}"  # noqa: E731
        mb = lambda x: "-" if x is None else f"{x / 1e6:.1f}"  # noqa: E731
        retained = "-" if b.retained_out is None or a.retained_out is None else (
            f"{(b.retained_out - a.retained_out) / wall:,.0f}")
        ratio = "-" if not b.compacted_line_bytes else f"{b.compacted_bytes / b.compacted_line_bytes:.3f}"
        return (f"{label:>4} {(b.lines - a.lines) / wall:>8,.0f} {(b.line_bytes - a.line_bytes) / wall / 1e6:>5.1f} "
                f"{sum(p[3] == 429 for p in pushes):>4} {behind:>6.2f}s "
                f"{'-' if push_ms is None else '/'.join(f'{x:.0f}' for x in push_ms):>10} {mark:>7} "
                f"{lat('log'):>17} {lat('metric'):>20} {lat('labels'):>19} {len(queries) / wall:>4.1f} "
                f"{(b.tail_lines - a.tail_lines) / wall:>6.0f} {b.tail_dropped - a.tail_dropped:>4} "
                f"{mib(b.rss):>6} {mib(b.pss):>6} {mb(b.data):>8} {mb(b.wal):>7} {srv:>7} "
                f"{(b.sender_cpu - a.sender_cpu) / wall:>7.0%} {retained:>7} {ratio:>5}")

    def run(self) -> None:
        a = self.args
        body_kb = sum(len(p) for p in self.variants[0].parts) / 1e3
        print(f"soak: {a.duration:.0f} s, {self.lines_per_body * a.tenants:,} lines/s = {a.tenants} tenants x "
              f"{self.lines_per_body} lines/s, {len(self.streams)} streams a tenant "
              f"({len(self.streams) * a.tenants:,}), "
              f"bodies of ~{body_kb:.0f} kB JSON, {a.senders} senders, {a.queries_per_s} queries/s, "
              f"{a.tails} tails", flush=True)
        if self.data_dir is not None and not a.url:
            print(f"server: retention_period {a.retention}, block_window {a.block_window}, head_max_age (compaction "
                  f"settle) {a.settle}, compaction_interval {a.compaction_interval}, retention_delete_delay "
                  f"{a.delete_delay}", flush=True)
        ready = [threading.Event() for _ in self.tails]
        tails = [threading.Thread(target=self.tail, args=(t, r), daemon=True) for t, r in zip(self.tails, ready)]
        for t in tails:
            t.start()
        for r in ready:
            r.wait(60)
        now_wall, now = time.time(), time.monotonic()
        self.sec0 = int(now_wall) + 1
        self.t0 = now + (self.sec0 - now_wall)  # slot s starts at wall second sec0 + s
        self.t_end = self.t0 + a.duration
        workers = [threading.Thread(target=self.sender, args=(i,), daemon=True) for i in range(a.senders)]
        workers += [threading.Thread(target=self.querier, daemon=True) for _ in range(a.query_threads)]
        workers.append(threading.Thread(target=self.marker, daemon=True))
        while time.monotonic() < self.t0:
            time.sleep(0.01)
        self.sample()
        for w in workers:
            w.start()
        print(self.HEADER, flush=True)
        interrupted = False
        try:
            last_row, n = self.samples[0], 0
            while not self.stop.is_set():
                n += 1
                when = min(self.t0 + n * SAMPLE_S, self.t_end)
                if self.stop.wait(max(0.0, when - time.monotonic())):
                    break
                s = self.sample()
                if when >= self.t_end or (s.t - last_row.t) >= a.report_every - 0.5:
                    print(self.row(f"{s.t / 60:.1f}" if a.report_every != 60 else f"{round(s.t / 60)}", last_row, s),
                          flush=True)
                    last_row = s
                if when >= self.t_end:
                    break
        except KeyboardInterrupt:
            interrupted = True
            print("\ninterrupted: the summary so far", file=sys.stderr)
        self.stop.set()
        if self.samples[-1].t < self.args.duration - 0.5:  # stopped early: the figures so far
            self.sample()
        try:
            for w in workers:
                w.join(130)
            time.sleep(3.0)  # the tails' last frames
        except KeyboardInterrupt:
            pass
        self.tails_stop.set()
        for t in tails:
            t.join(5)
        self.metrics_conn.close()
        self.summary(interrupted)

    # -- the verdict
    def tail_gaps(self) -> list[str]:
        out = []
        for tail in self.tails:
            j = tail.tenant_index
            name = f"tail {self.tenants[j]} {tail.selector[0]}={tail.selector[1]}"
            if tail.dropped:
                out.append(f"{name}: {tail.dropped} dropped_entries")
            if j not in self.last_acked:
                continue
            seen = [sec - (self.sec0 - 1) for sec in tail.per_second]
            if not seen:
                if any(self.expected(tail, s) for s in range(self.last_acked[j] + 1)):
                    out.append(f"{name}: no line received")
                continue
            first = min(seen)
            missing = []
            for slot in range(first, self.last_acked[j] + 1):
                if (j, slot) in self.rejected:
                    continue
                want, got = self.expected(tail, slot), tail.per_second.get(self.sec0 - 1 + slot, 0)
                if got > want or (got < want and slot != first):  # the first second may predate the tail
                    missing.append(f"slot {slot}: {got} of {want}")
            if missing:
                out.append(f"{name}: {len(missing)} seconds wrong ({', '.join(missing[:5])})")
        return out

    def summary(self, interrupted: bool) -> None:
        s0, s1 = self.samples[0], self.samples[-1]
        wall = max(s1.t - s0.t, 1e-9)
        statuses = Counter(p[3] for p in self.pushes)
        print(f"\nsummary ({'interrupted at ' if interrupted else ''}{wall:.0f} s):")
        target = self.lines_per_body * len(self.tenants)
        print(f"  ingest: {s1.lines:,} lines acknowledged, {s1.lines / wall:,.0f} lines/s of {target:,} scheduled, "
              f"{s1.line_bytes / wall / 1e6:.2f} MB/s of line text; pushes by status {dict(statuses)}")
        behind = [p[4] for p in self.pushes]
        if behind:
            last_minute = max((p[4] for p in self.pushes if p[0] > self.t0 + s1.t - 60), default=0)
            p50, p99 = percentiles([p[5] * 1000 for p in self.pushes], (50, 99))
            print(f"  behind schedule: max {max(behind):.2f} s, last minute max {last_minute:.2f} s; "
                  f"push latency p50/p99 {p50:.0f}/{p99:.0f} ms")
        seen = [m[1] for m in self.markers if m[1] is not None]
        if self.markers:
            p = percentiles(seen, (50, 90)) if seen else None
            print(f"  push to queryable (marker): {len(seen)} of {len(self.markers)} seen"
                  + (f", p50 {p[0]:.2f} s, p90 {p[1]:.2f} s, max {max(seen):.2f} s" if p else ""))
        for kind in ("log", "metric", "labels"):
            qs = [q for q in self.queries if q[1] == kind]
            p = percentiles([q[2] * 1000 for q in qs if q[3] == 200])
            bad = Counter(q[3] for q in qs if q[3] != 200)
            print(f"  {kind:<6} queries: {len(qs)}"
                  + (f", p50/p90/p99 {p[0]:.0f}/{p[1]:.0f}/{p[2]:.0f} ms" if p else "")
                  + (f", failed {dict(bad)}" if bad else ""))
        for t in self.tails:
            print(f"  tail {self.tenants[t.tenant_index]} {{{t.selector[0]}=\"{t.selector[1]}\"}}: {t.lines:,} lines, "
                  f"{t.dropped} dropped_entries" + (f", {t.error}" if t.error else ""))
        gen = s1.sender_cpu - s0.sender_cpu
        bench = s1.bench_cpu - s0.bench_cpu
        srv = "" if s1.server_cpu is None else (
            f"server {s1.server_cpu - s0.server_cpu:.0f} CPU s ({(s1.server_cpu - s0.server_cpu) / wall:.2f} cores), ")
        print(f"  CPU: {srv}generator (sender threads) {gen:.1f} s ({gen / wall:.2f} cores, "
              f"{gen / max(s1.lines, 1) * 1e6:.2f} us a line), whole bench process {bench:.1f} s "
              f"({bench / wall:.2f} cores)")
        if s1.rss is not None or s1.data is not None:
            print("  samples:   t s  RSS MiB  PSS MiB  data MB   WAL MB  lines acked  retention lines  cmp MB")
            for s in self.samples:
                print(f"           {s.t:>5.0f} {s.rss or 0:>8.0f} {s.pss or 0:>8.0f} {(s.data or 0) / 1e6:>8.1f} "
                      f"{(s.wal or 0) / 1e6:>8.1f} {s.lines:>12,} {s.retained_out or 0:>16,.0f} "
                      f"{(s.compacted_bytes or 0) / 1e6:>7.1f}")
        self.verdict()
        problems = self.failures + self.tail_gaps()
        if problems:
            print("FAILED:\n  " + "\n  ".join(problems))
            raise SystemExit(1)
        if interrupted:
            raise SystemExit(130)

    LEVEL_RATIO, LEVEL_SHARE = 0.2, 0.01

    def verdict(self) -> None:
        """RSS, PSS and disk (blocks + WAL): growth per minute over the first and the last third of the
        run, each the least-squares slope of its samples, and whether they level off (criterion)."""
        samples = [s for s in self.samples if s.t > 0]
        if len(samples) < 6:
            print("  verdict: too few samples (under a minute)")
            return
        span = samples[-1].t
        first = [s for s in samples if s.t <= span / 3]
        last = [s for s in samples if s.t >= 2 * span / 3]
        print(f"  verdict (first third: {first[0].t:.0f}-{first[-1].t:.0f} s, last third: {last[0].t:.0f}-"
              f"{last[-1].t:.0f} s; levels off = the last third grows less than {self.LEVEL_RATIO:.0%} of the "
              f"first third's rate a minute, or less than {self.LEVEL_SHARE:.0%} of the final level a minute):")

        def slope(part, value) -> float:  # per minute
            t = np.array([s.t for s in part]) / 60
            return float(np.polyfit(t, np.array([value(s) for s in part], dtype=float), 1)[0])

        def line(name: str, value, unit: str, scale: float, extra: str = "") -> None:
            a, b = slope(first, value) / scale, slope(last, value) / scale
            level = value(samples[-1]) / scale
            flat = b <= max(self.LEVEL_RATIO * a, self.LEVEL_SHARE * level)
            print(f"    {name}: {a:+,.1f} {unit}/min over the first third, {b:+,.1f} {unit}/min over the last "
                  f"(now {level:,.0f} {unit}{extra}): levels off: {'yes' if flat else 'NO'}")

        if samples[0].rss is not None:
            line("RSS", lambda s: s.rss, "MiB", 1.0)
        if samples[0].pss is not None:
            line("PSS", lambda s: s.pss, "MiB", 1.0)
        if samples[0].data is not None:
            wall = last[-1].t - last[0].t
            ingest = (last[-1].line_bytes - last[0].line_bytes) / wall
            removed = "" if last[-1].retained_out is None else (
                f"; retention removed {(last[-1].retained_out - last[0].retained_out) / wall:,.0f} lines/s of the "
                f"{(last[-1].lines - last[0].lines) / wall:,.0f} ingested")
            held = (last[-1].data + last[-1].wal) / max(ingest, 1)
            line("disk (blocks + WAL)", lambda s: s.data + s.wal, "MB", 1e6,
                 f", {held / 60:.1f} minutes of the last third's ingest{removed}")
        if samples[-1].compacted_line_bytes:
            print(f"    compacted windows: {samples[-1].compacted_bytes / 1e6:,.0f} MB on disk for "
                  f"{samples[-1].compacted_line_bytes / 1e6:,.0f} MB of line text "
                  f"({samples[-1].compacted_bytes / samples[-1].compacted_line_bytes:.3f} bytes a line byte)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=600, help="seconds of load (default 600)")
    ap.add_argument("--rate", type=int, default=50_000, help="lines per second, all tenants (default 50000)")
    ap.add_argument("--tenants", type=int, default=50)
    ap.add_argument("--streams", type=int, default=5000, help="streams over all tenants (default 5000)")
    ap.add_argument("--queries-per-s", type=float, default=2.0)
    ap.add_argument("--query-threads", type=int, default=2)
    ap.add_argument("--tails", type=int, default=3)
    ap.add_argument("--senders", type=int, default=8, help="keep-alive push connections")
    ap.add_argument("--report-every", type=float, default=60, help="seconds between table rows (default 60)")
    ap.add_argument("--retention", default="3m",
                    help="the started server's limits.retention_period (default 3m: level by ~5 minutes)")
    ap.add_argument("--block-window", default="1m", help="its storage.block_window (default 1m)")
    ap.add_argument("--settle", default="30s",
                    help="its storage.head_max_age: head age cut and compaction settle time (default 30s)")
    ap.add_argument("--compaction-interval", default="30s",
                    help="its compactor.compaction_interval: retention passes, compaction under load (default 30s)")
    ap.add_argument("--delete-delay", default="10s",
                    help="its compactor.retention_delete_delay: files retention removed stay this long (default 10s)")
    ap.add_argument("--url", help="an existing server (with auth_enabled) instead of a fresh `logyard serve`")
    ap.add_argument("--pid", type=int, help="with --url: the server's pid, for RSS and CPU")
    ap.add_argument("--data-dir", type=Path, help="with --url: the server's data dir, for its size")
    args = ap.parse_args()
    # ctrl-C ends the run with its summary, even where SIGINT came in ignored (a shell's background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.streams < args.tenants:
        ap.error("--streams must be at least --tenants")
    if args.url:
        Soak(args, args.url, args.pid, args.data_dir).run()
        return
    tmp = Path(tempfile.mkdtemp(prefix="logyard-soak-"))
    config = SERVER_CONFIG.format(retention=args.retention, block_window=args.block_window, settle=args.settle,
                                  compaction_interval=args.compaction_interval, delete_delay=args.delete_delay)
    srv = ServerProcess(tmp / "data", config_text=config, new_session=True).start()
    try:
        Soak(args, srv.url, srv.proc.pid, tmp / "data").run()
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
