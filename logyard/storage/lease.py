"""The backend's lease: one object in the bucket saying which process may run compaction, retention
and deletion passes, and until when (docs/scaling.md, Exactly one backend).

The object (`leases/backend.json`: `{"holder": node id, "expires_ns": wall time}`) is only ever
written with a conditional PUT: `If-None-Match: *` creates it when there is none, `If-Match: <etag>`
renews it (its holder) or takes it over (anyone, once it expired). Of two processes racing, the store
lets one write win and answers the other 412, so at most one holds an unexpired lease. AWS S3, MinIO,
GCS and SeaweedFS honour these headers; pyarrow's S3 filesystem cannot send them, so the requests
here are signed and sent by s3_signed.py. A store that ignores the headers would let two processes
hold it: use one that does.

Expiry is wall time: holders' clocks must agree to well within the lease's length (NTP does).
"""

from __future__ import annotations

import logging
import time

import httpx
import orjson

from logyard.storage.s3_signed import S3Target, SignedBucket

log = logging.getLogger(__name__)

LEASE_KEY = "leases/backend.json"


class Lease:
    """`hold()` is True while this process holds the lease (taking or renewing it as needed)."""

    def __init__(self, target: S3Target, prefix: str, holder: str, *, ttl_s: float = 60.0,
                 clock=time.time, timeout_s: float = 5.0) -> None:
        self.target = target
        self._bucket = SignedBucket(target, prefix, timeout_s=timeout_s)
        self.url = self._bucket.url(LEASE_KEY)
        self.holder = holder
        self.ttl_s = ttl_s
        self.clock = clock
        self._held = False
        self._renewed = float("-inf")  # monotonic time the store last confirmed we hold it

    def _request(self, method: str, body: bytes = b"", headers: dict[str, str] | None = None) -> httpx.Response:
        return self._bucket.request(method, LEASE_KEY, body, headers)

    def hold(self) -> bool:
        """Take the lease if it is free or expired, renew it if ours; whether we hold it now. Held, it
        is renewed once a quarter of its length has passed (no request before). A store that does not
        answer counts as not held (passes wait: they are never urgent)."""
        if self._held and time.monotonic() - self._renewed < self.ttl_s / 4:
            return True
        started = time.monotonic()
        try:
            held = self._try()
        except httpx.HTTPError as e:
            log.warning("backend lease: the object store did not answer (%s): passes wait", e)
            held = False
        if held != self._held:
            log.info("backend lease %s by %s", "taken" if held else "lost", self.holder)
        self._held = held
        if held:
            self._renewed = started
        return held

    def _try(self) -> bool:
        now = self.clock()
        mine = orjson.dumps({"holder": self.holder, "expires_ns": int((now + self.ttl_s) * 1e9)})
        r = self._request("GET")
        if r.status_code == 404:
            return self._put(mine, {"If-None-Match": "*"})
        if r.status_code != 200:
            raise httpx.HTTPStatusError(f"GET lease answered {r.status_code}", request=r.request, response=r)
        try:
            current = orjson.loads(r.content)
            holder, expires_ns = str(current["holder"]), int(current["expires_ns"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            holder, expires_ns = "", 0  # not a lease: taken over like an expired one
        if holder != self.holder and expires_ns > now * 1e9:
            return False
        etag = r.headers.get("etag")
        if not etag:
            raise httpx.HTTPStatusError("GET lease answered no ETag", request=r.request, response=r)
        return self._put(mine, {"If-Match": etag})

    def _put(self, body: bytes, condition: dict[str, str]) -> bool:
        r = self._request("PUT", body, condition)
        if r.status_code in (412, 409):  # another process wrote first
            return False
        if r.status_code != 200:
            raise httpx.HTTPStatusError(f"PUT lease answered {r.status_code}: {r.text[:200]}", request=r.request,
                                        response=r)
        return True

    def close(self) -> None:
        self._bucket.close()
