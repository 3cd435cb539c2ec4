"""One push endpoint: encode a batch, POST it, retry what may succeed later, drop what never will.

Retries use exponential backoff on 429, 5xx and connection errors; any other 4xx is the server saying
the batch is wrong, so it is logged, counted in `promtail_dropped_entries_total` and not retried.
"""

from __future__ import annotations

import base64
import logging
import time
from pathlib import Path
from typing import Callable, Sequence

import httpx

from logyard.agent.journal import StreamChunk
from logyard.agent.metrics import AgentMetrics
from logyard.agent.push import encode_stream, push_body
from logyard.config.agent import ClientConfig

log = logging.getLogger("logyard.agent.client")


class Stopping(Exception):
    """The agent is shutting down while a batch waits for a retry; it stays in the journal."""


class PushClient:
    def __init__(
        self,
        cfg: ClientConfig,
        metrics: AgentMetrics,
        wait: Callable[[float], bool],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`wait(seconds)` sleeps and returns True when the agent is stopping (injected for tests)."""
        self.cfg = cfg
        self.metrics = metrics
        self.wait = wait
        self.host = httpx.URL(cfg.url).host or cfg.url
        self.tenant = cfg.tenant_id or ""  # Promtail's `tenant` label: empty without X-Scope-OrgID
        self.last_error = ""
        headers = {"Content-Type": "application/x-protobuf", "User-Agent": "logyard-agent/0.1", **cfg.headers}
        if cfg.tenant_id:
            headers["X-Scope-OrgID"] = cfg.tenant_id
        if cfg.basic_auth is not None:
            password = cfg.basic_auth.password
            if cfg.basic_auth.password_file:
                password = Path(cfg.basic_auth.password_file).read_text().strip()
            token = base64.b64encode(f"{cfg.basic_auth.username}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        bearer = cfg.bearer_token
        if cfg.bearer_token_file:
            bearer = Path(cfg.bearer_token_file).read_text().strip()
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        self.http = httpx.Client(headers=headers, timeout=cfg.timeout, transport=transport)

    def body(self, streams: Sequence[StreamChunk]) -> bytes:
        ext = self.cfg.external_labels
        return push_body(
            encode_stream(str(s.labels.with_labels(ext) if ext else s.labels), s.entries) for s in streams if s.count
        )

    def push(self, streams: Sequence[StreamChunk]) -> bool:
        """Deliver a batch; True when the server took it, False when it was dropped. Raises `Stopping`."""
        count = sum(s.count for s in streams)
        if count == 0:
            return True
        line_bytes = sum(s.line_bytes for s in streams)
        body = self.body(streams)
        backoff = self.cfg.backoff_config
        delay, attempt = backoff.min_period, 0
        while True:
            status, reason = self._post(body)
            if 200 <= status < 300:
                self.metrics.sent_entries.labels(self.host).inc(count)
                self.metrics.sent_bytes.labels(self.host).inc(line_bytes)
                self.metrics.encoded_bytes.labels(self.host).inc(len(body))
                self.last_error = ""
                return True
            self.last_error = reason
            if status and status != 429 and status < 500:
                log.error("server rejected a batch of %d entries, not retrying: %s", count, reason)
                self._dropped("rate_limited" if status == 429 else "ingester_error", count, line_bytes)
                return False
            attempt += 1
            if backoff.max_retries and attempt > backoff.max_retries:
                log.error("dropping %d entries after %d attempts: %s", count, attempt, reason)
                self._dropped("rate_limited" if status == 429 else "ingester_error", count, line_bytes)
                return False
            self.metrics.batch_retries.labels(self.host, self.tenant).inc()
            log.warning("push failed (%s), retrying in %.1fs", reason, delay)
            if self.wait(delay):
                raise Stopping()
            delay = min(delay * 2, backoff.max_period)

    def _dropped(self, reason: str, count: int, line_bytes: int) -> None:
        self.metrics.dropped_entries.labels(self.host, self.tenant, reason).inc(count)
        self.metrics.dropped_bytes.labels(self.host, self.tenant, reason).inc(line_bytes)

    def _post(self, body: bytes) -> tuple[int, str]:
        """(status, reason); status 0 for connection errors."""
        start = time.monotonic()
        try:
            resp = self.http.post(self.cfg.url, content=body)
        except httpx.TransportError as exc:
            # Promtail's status_code for a request that got no answer
            self.metrics.request_duration.labels(self.host, "-1").observe(time.monotonic() - start)
            return 0, f"{type(exc).__name__}: {exc}"
        self.metrics.request_duration.labels(self.host, str(resp.status_code)).observe(time.monotonic() - start)
        if 200 <= resp.status_code < 300:
            return resp.status_code, ""
        return resp.status_code, f"HTTP {resp.status_code}: {resp.text[:500].strip()}"

    def close(self) -> None:
        self.http.close()
