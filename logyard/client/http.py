"""The HTTP side of the client: one Loki address, its tenant and credentials, errors in one line.

Every failure becomes a `LogyardError` whose message is what a person at a terminal needs: Loki's
own error text with the status (a bad query, an unknown tenant), or, when nothing answers at the
address, how to start a server or point at one.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode, urlsplit

import httpx
import orjson

from logyard.errors import LogyardError

DEFAULT_ADDR = "http://127.0.0.1:3100"
# Queries over long ranges may take minutes: only connecting is bounded (logcli sets no timeout at all).
TIMEOUT = httpx.Timeout(None, connect=10.0)


class UnreachableError(LogyardError):
    """Nothing answered at --addr: no HTTP status, so the message says how to get a server there."""

    status = 503


def unreachable_message(addr: str, reason: str) -> str:
    return (f"cannot reach Loki at {addr} ({reason}): start one with `logyard up` (or `logyard serve`), "
            f"or point --addr / LOKI_ADDR at a running Loki")


def loki_error(status: int, body: str) -> LogyardError:
    """Loki answers errors as plain text (a JSON `{"message"}` behind some gateways): keep its words."""
    text = body.strip()
    if text.startswith("{"):
        try:
            text = str(orjson.loads(text).get("message") or text)
        except (orjson.JSONDecodeError, AttributeError):
            pass
    text = " ".join(text.split()) or httpx.codes.get_reason_phrase(status)
    return LogyardError(f"{text} (HTTP {status})", status)


@dataclass
class LokiClient:
    """GETs against one Loki: `X-Scope-OrgID` when an org id is set, basic auth when a username is."""

    addr: str = DEFAULT_ADDR
    org_id: str | None = None
    username: str | None = None
    password: str | None = None
    on_request: Callable[[str], None] | None = None  # told each URL before it is asked (logcli logs them)
    encoding_flags: str | None = None  # X-Loki-Response-Encoding-Flags, e.g. "categorize-labels"
    _http: httpx.Client | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.addr = self.addr.rstrip("/")
        parts = urlsplit(self.addr)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise LogyardError(f"--addr {self.addr!r} is not an http(s) URL, e.g. {DEFAULT_ADDR}", 400)

    def headers(self) -> dict[str, str]:
        h = {"User-Agent": "logyard-query"}
        if self.org_id:
            h["X-Scope-OrgID"] = self.org_id
        if self.encoding_flags:
            h["X-Loki-Response-Encoding-Flags"] = self.encoding_flags
        if self.username or self.password:
            token = base64.b64encode(f"{self.username or ''}:{self.password or ''}".encode()).decode()
            h["Authorization"] = f"Basic {token}"
        return h

    def url(self, path: str, params: dict | list | None = None) -> str:
        query = urlencode(params or {}, doseq=True)
        return f"{self.addr}{path}" + (f"?{query}" if query else "")

    def ws_url(self, path: str, params: dict) -> str:
        return "ws" + self.url(path, params)[len("http"):]

    def get(self, path: str, params: dict | list | None = None) -> dict:
        """The JSON body of a 2xx answer; anything else raises a one-line `LogyardError`."""
        url = self.url(path, params)
        if self.on_request:
            self.on_request(url)
        if self._http is None:
            self._http = httpx.Client(timeout=TIMEOUT, headers=self.headers())
        try:
            r = self._http.get(url)
        except httpx.ConnectError as exc:
            raise UnreachableError(unreachable_message(self.addr, _reason(exc))) from None
        except httpx.TransportError as exc:
            raise UnreachableError(f"request to {self.addr} failed: {_reason(exc)}") from None
        if r.status_code // 100 != 2:
            raise loki_error(r.status_code, r.text)
        try:
            return orjson.loads(r.content)
        except orjson.JSONDecodeError:
            raise LogyardError(f"{self.addr}{path} answered {r.status_code} but not with JSON: "
                               f"is --addr a Loki?", 502) from None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> "LokiClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    return text.rsplit("] ", 1)[-1]
