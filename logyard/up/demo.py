"""The made-up compose stack of `logyard up --demo`: push bodies a machine with no containers can show.

Five services of an AI stack (ollama, postgres, open-webui, grafana, prometheus) write as they do for
real: Go logfmt (ollama, grafana, prometheus), Postgres' own prefix, JSON (open-webui); levels, errors,
slow requests, trace ids, and now and then a burst from one service. Pure: time comes from the caller
and randomness from the caller's generator, so a test gets the same lines for the same seed.

The draws (how many lines, which service, level, latency, trace id) are array operations; writing the
text is one template call per line, which nothing vectorizes, over the ~20 lines of a second.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

PROJECT = "demo"
SERVICES = ("ollama", "postgres", "open-webui", "grafana", "prometheus")
# Docker's streams as these images use them: ollama and postgres log to stderr
STREAMS = ("stderr", "stderr", "stdout", "stdout", "stdout")
WEIGHTS = np.array([0.25, 0.2, 0.3, 0.15, 0.1])
LEVELS = ("debug", "info", "warn", "error")
LEVEL_P = np.array([0.05, 0.8, 0.1, 0.05])
SLOW_MS = 2000.0  # a request at least this slow is written as a slow-request warning

MODELS = ("llama3.2:3b", "qwen2.5:7b", "mistral:7b", "nomic-embed-text")
PATHS = ("/api/chat", "/api/generate", "/api/embed", "/api/tags")
WEBUI_ROUTES = ("/api/v1/chats/new", "/api/v1/auths/signin", "/api/v1/models", "/api/v1/files/", "/ollama/api/chat")
USERS = ("alice", "bob", "carol", "admin")
QUERIES = ("SELECT * FROM chat WHERE user_id = $1", "INSERT INTO message (chat_id, content) VALUES ($1, $2)",
           "UPDATE auth SET last_active_at = now() WHERE id = $1")
PANELS = ("/api/dashboards/uid/container-logs", "/api/ds/query", "/api/search", "/api/health")


def labels(service: str) -> dict[str, str]:
    """The labels the agent would give the service's container in compose project `demo`."""
    i = SERVICES.index(service)
    return {"compose_project": PROJECT, "compose_service": service, "container": f"{PROJECT}-{service}-1",
            "stream": STREAMS[i]}


def _ollama(ts: str, level: str, ms: float, trace: str, k: int) -> str:
    if level == "error":
        return (f'time={ts}Z level=ERROR source=server.go:612 msg="llama runner process has terminated" '
                f'error="signal: killed" model={MODELS[k % 4]}')
    if k % 5 == 0:
        return (f'time={ts}Z level=INFO source=server.go:{380 + k % 40} msg="loading model" model={MODELS[k % 4]} '
                f'gpu_layers={33 - k % 9} load_duration={ms * 40 / 1000:.2f}s')
    status = 200 if level != "warn" else 499
    return (f"[GIN] {ts[:10].replace('-', '/')} - {ts[11:19]} | {status} | {ms / 1000:>10.6f}s | "
            f'172.18.0.{k % 8 + 2} | POST     "{PATHS[k % 4]}" trace_id={trace}')


def _postgres(ts: str, level: str, ms: float, trace: str, k: int) -> str:
    head = f"{ts.replace('T', ' ')} UTC [{100 + k % 900}]"
    if level == "error":
        return (f'{head} ERROR:  duplicate key value violates unique constraint "chat_pkey"'
                if k % 2 else f'{head} FATAL:  password authentication failed for user "webui"')
    if level == "warn" or ms >= SLOW_MS:
        return f"{head} LOG:  duration: {ms:.3f} ms  statement: {QUERIES[k % 3]}"
    if level == "debug":
        return f"{head} DEBUG:  autovacuum: processing database \"openwebui\""
    return f"{head} LOG:  checkpoint complete: wrote {k % 500} buffers ({k % 50 / 10:.1f}%)"


def _open_webui(ts: str, level: str, ms: float, trace: str, k: int) -> str:
    route = WEBUI_ROUTES[k % 5]
    status = 500 if level == "error" else 401 if route.endswith("signin") and k % 3 == 0 else 200
    msg = ("user login failed" if status == 401 else "user login" if route.endswith("signin")
           else "ollama request failed: connection reset" if status == 500 else "request completed")
    event = ',"event":"auth.login"' if route.endswith("signin") else ""
    return (f'{{"ts":"{ts}Z","level":"{"warn" if status == 401 else level}","logger":"open_webui.main",'
            f'"msg":"{msg}","method":"POST","path":"{route}","status":{status},"duration_ms":{ms:.1f},'
            f'"user":"{USERS[k % 4]}","trace_id":"{trace}"{event}}}')


def _grafana(ts: str, level: str, ms: float, trace: str, k: int) -> str:
    status = 500 if level == "error" else 200
    return (f"logger=context userId=1 orgId=1 uname=admin t={ts}Z level={level} msg=\"Request Completed\" "
            f"method=GET path={PANELS[k % 4]} status={status} remote_addr=172.18.0.1 time_ms={ms:.0f} "
            f"duration={ms:.1f}ms size={k % 9000} traceID={trace}")


def _prometheus(ts: str, level: str, ms: float, trace: str, k: int) -> str:
    if level == "error":
        return (f'ts={ts}Z caller=scrape.go:1331 level=error component="scrape manager" scrape_pool=ollama '
                f'target=http://ollama:11434/metrics msg="Scrape failed" err="context deadline exceeded"')
    if level == "warn":
        return (f'ts={ts}Z caller=scrape.go:1748 level=warn component="scrape manager" scrape_pool=node '
                f'msg="Error on ingesting samples that are too old or are too far into the future" '
                f"num_dropped={k % 20}")
    return f'ts={ts}Z caller=head.go:{1200 + k % 90} level={level} component=tsdb msg="Head GC completed" duration={ms / 100:.3f}ms'


WRITERS: tuple[Callable[[str, str, float, str, int], str], ...] = (_ollama, _postgres, _open_webui, _grafana,
                                                                  _prometheus)


def body(rng: np.random.Generator, start_ns: int, end_ns: int, lines: int, burst: int | None = None) -> dict:
    """A Loki push body of `lines` entries timed in [start_ns, end_ns), in time order within each stream;
    `burst` names a service (its index) that writes all of them, as one that fails or loads a model."""
    ts = np.sort(rng.integers(start_ns, max(end_ns, start_ns + 1), size=lines))
    service = (np.full(lines, burst) if burst is not None else rng.choice(len(SERVICES), size=lines, p=WEIGHTS))
    level = rng.choice(len(LEVELS), size=lines, p=LEVEL_P)
    if burst is not None:
        level = np.where(rng.random(lines) < 0.6, 3, level)  # a burst is mostly errors
    ms = rng.lognormal(mean=3.5, sigma=1.3, size=lines)  # median ~33 ms, a long tail of slow requests
    level = np.where((ms >= SLOW_MS) & (level < 2), 2, level)
    trace = [f"{a:016x}{b:016x}" for a, b in rng.integers(0, 2**63, size=(lines, 2))]
    text_ts = np.datetime_as_string(ts.astype("datetime64[ns]"), unit="ms")
    kind = rng.integers(0, 1 << 30, size=lines)
    values: dict[int, list[list[str]]] = {}
    for i, s in enumerate(service.tolist()):
        line = WRITERS[s](str(text_ts[i]), LEVELS[level[i]], float(ms[i]), trace[i], int(kind[i]))
        values.setdefault(s, []).append([str(int(ts[i])), line])
    return {"streams": [{"stream": labels(SERVICES[s]), "values": v} for s, v in sorted(values.items())]}


def bodies(rng: np.random.Generator, clock: Callable[[], int], rate: float = 20.0,
           burst_every: float = 45.0) -> Iterator[dict]:
    """Push bodies for the time since the previous one (`clock()` in ns): `rate` lines a second on
    average, and about every `burst_every` seconds a burst of a few hundred lines from one service.
    The first body covers the second before the first call."""
    last = clock() - 1_000_000_000
    while True:
        now = clock()
        seconds = max(now - last, 1) / 1e9
        n = int(rng.poisson(rate * seconds))
        if rng.random() < seconds / burst_every:
            yield body(rng, last, now, n + int(rng.integers(150, 400)), burst=int(rng.integers(len(SERVICES))))
        else:
            yield body(rng, last, now, max(n, 1))
        last = now
