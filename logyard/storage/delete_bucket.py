"""Delete requests in the object store's bucket: the one home of every request when several
processes share a bucket (docs/scaling.md, Delete requests), so that any process may take, list or
cancel one, every reader leaves its lines out, and the backend that rewrites the blocks keeps nothing
of its own (restarted on an empty disk, it finds every request in the bucket).

One object per request, `deletes/<tenant>/<request_id>.json`: its fields (deletes.DeleteRequest),
plus `processed_ms` and `deleted_lines` once processed. Every change is a conditional PUT
(s3_signed.py): a request is created with `If-None-Match: *` (an id taken answers 412: the next
nanosecond's id is tried), marked processed and cancelled with `If-Match: <etag>` of the version
read, so of a cancel and the deletion pass racing exactly one wins: a request cancelled is never
marked processed, a request processed is never cancelled. A cancel writes the status `cancelled`
first, then deletes the object; a tombstone left behind (the delete failed) is ignored by everyone.

Each process mirrors the requests in memory (deletes.RequestMirror) for its reads, and `refresh`es
the mirror every `refresh_period` with the blocks: one LIST, and a GET only for an object whose ETag
changed. The API's reads (`list`, `get`) ask the bucket first, so an answer never lags behind a
request another process just took.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import httpx
import orjson

from logyard.errors import CorruptDataError, StorageError
from logyard.storage import format as F
from logyard.storage.deletes import MS, PROCESSED, RECEIVED, Active, DeleteFilter, DeleteRequest, RequestMirror
from logyard.storage.objects import object_store_error
from logyard.storage.s3_signed import SignedBucket

log = logging.getLogger(__name__)

CANCELLED = "cancelled"  # a tombstone: the cancel's conditional write, before its delete
STATUSES = (RECEIVED, PROCESSED, CANCELLED)
MAX_ATTEMPTS = 20  # conditional writes lost to other processes before giving up (503)


def request_rel(tenant: str, rid: str) -> str:
    return f"{F.DELETES_DIR}/{tenant}/{rid}.json"


def encode_request(req: DeleteRequest, *, processed_ms: int | None = None, deleted_lines: int = 0) -> bytes:
    return orjson.dumps({"request_id": req.request_id, "tenant": req.tenant, "query": req.query,
                         "start_ms": req.start_ms, "end_ms": req.end_ms, "created_ms": req.created_ms,
                         "status": req.status, "processed_ms": processed_ms, "deleted_lines": deleted_lines})


def decode_request(body: bytes, rel: str) -> DeleteRequest:
    """The request of an object; CorruptDataError naming the field that is wrong."""
    try:
        d = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise CorruptDataError(f"delete request {rel}: not JSON: {e}") from e
    if not isinstance(d, dict):
        raise CorruptDataError(f"delete request {rel}: not a JSON object")
    for name, kind in (("request_id", str), ("tenant", str), ("query", str), ("start_ms", int), ("end_ms", int),
                       ("created_ms", int), ("status", str)):
        if not isinstance(d.get(name), kind) or isinstance(d.get(name), bool):
            raise CorruptDataError(f"delete request {rel}: field {name} is missing or not a {kind.__name__}")
    if d["status"] not in STATUSES:
        raise CorruptDataError(f"delete request {rel}: field status is {d['status']!r}")
    if request_rel(d["tenant"], d["request_id"]) != rel:
        raise CorruptDataError(f"delete request {rel}: fields tenant and request_id name another object")
    return DeleteRequest(d["request_id"], d["tenant"], d["query"], d["start_ms"], d["end_ms"], d["created_ms"],
                         d["status"])


class BucketDeleteRequests(RequestMirror):
    """Delete requests as objects of `bucket` (its client is closed with it)."""

    shared = True

    def __init__(self, bucket: SignedBucket, compile: Callable[[str], DeleteFilter] | None,
                 clock: Callable[[], float]) -> None:
        super().__init__(compile, clock)
        self.bucket = bucket
        # rel -> (ETag of the version mirrored, its request with filter; None: a tombstone, or an
        # object that cannot be applied, logged once)
        self._objects: dict[str, tuple[str, Active | None]] = {}

    def open(self) -> None:
        """Mirror the bucket's requests; StorageError (503) when it does not answer."""
        self.refresh()

    def close(self) -> None:
        self.bucket.close()

    # ---- requests on the bucket -----------------------------------------------------------------
    def _send(self, what: str, method: str, rel: str, body: bytes = b"",
              headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            r = self.bucket.request(method, rel, body, headers)
        except httpx.HTTPError as e:
            raise object_store_error(what, e) from e
        if r.status_code >= 500 or r.status_code in (401, 403):
            raise StorageError(f"object store: {what} failed: HTTP {r.status_code}: {r.text[:200]}", status=503)
        return r

    def _fetch(self, rel: str) -> tuple[str, DeleteRequest | None] | None:
        """The object's ETag and request (None: it does not decode, logged), or None: no such object."""
        r = self._send(f"reading {rel}", "GET", rel)
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise StorageError(f"object store: reading {rel} answered HTTP {r.status_code}", status=503)
        try:
            return r.headers.get("etag", ""), decode_request(r.content, rel)
        except CorruptDataError as e:
            log.error("%s; not applied", e.message)
            return r.headers.get("etag", ""), None

    def _mirror(self, rel: str, version: tuple[str, DeleteRequest | None] | None) -> Active | None:
        """Take in a version of an object, (ETag, request) as `_fetch` gives it, or None: no such
        object; the request as reads apply it (None: none). Called with `_lock` held."""
        tenant, rid = rel[len(F.DELETES_DIR) + 1:-len(".json")].split("/", 1)
        if version is None:
            self._objects.pop(rel, None)
            self._drop(tenant, rid)
            return None
        etag, req = version
        old = self._objects.get(rel)
        active: Active | None = None
        if req is not None and req.status != CANCELLED:
            if old is not None and old[1] is not None and old[1].request.query == req.query:
                active = Active(req, old[1].filter)  # the status changed, not the query
            else:
                active = self._active(req)
        self._objects[rel] = (etag, active)
        if active is None:
            self._drop(tenant, rid)
        else:
            self._put(active)
        return active

    def refresh(self) -> None:
        """Re-list the bucket's requests: a GET only for an object new or changed since the last
        look. StorageError (503) when the store does not answer; the mirror stays as it was."""
        with self._lock:
            try:
                listed = self.bucket.list(F.DELETES_DIR + "/")
            except httpx.HTTPError as e:
                raise object_store_error("listing delete requests", e) from e
            seen = set()
            for o in listed:  # one step per request
                if o.rel.count("/") != 2 or not o.rel.endswith(".json"):
                    continue  # not a request's name
                have = self._objects.get(o.rel)
                if have is not None and have[0] == o.etag:
                    seen.add(o.rel)
                    continue
                got = self._fetch(o.rel)
                if got is not None:
                    seen.add(o.rel)
                    self._mirror(o.rel, got)
            for rel in [r for r in self._objects if r not in seen]:  # gone: cancelled elsewhere
                self._mirror(rel, None)

    # ---- the API's operations -------------------------------------------------------------------
    def add(self, tenant: str, query: str, start_ms: int, end_ms: int) -> DeleteRequest:
        flt = self.compile(query)
        now_ns = int(self._clock() * 1e9)
        with self._lock:
            for _ in range(MAX_ATTEMPTS):
                rid, now_ns = self._new_id(tenant, query, now_ns)
                req = DeleteRequest(rid, tenant, query, start_ms, end_ms, now_ns // MS)
                rel = request_rel(tenant, rid)
                r = self._send(f"writing {rel}", "PUT", rel, encode_request(req), {"If-None-Match": "*"})
                if r.status_code == 200:
                    self._objects[rel] = (r.headers.get("etag", ""), Active(req, flt))
                    self._put(Active(req, flt))  # compiled above: not again
                    break
                if r.status_code not in (409, 412):
                    raise StorageError(f"object store: writing {rel} answered HTTP {r.status_code}", status=503)
                now_ns += 1  # another process took this id (the same query in the same nanosecond)
            else:
                raise StorageError(f"object store: no free id for a delete request after {MAX_ATTEMPTS} tries",
                                   status=503)
        self.received[tenant] += 1
        return req

    def list(self, tenant: str) -> list[DeleteRequest]:
        self.refresh()
        return super().list(tenant)

    def get(self, tenant: str, rid: str) -> DeleteRequest | None:
        """The request as the bucket has it now (a cancel decides on it)."""
        rel = request_rel(tenant, rid)
        with self._lock:
            active = self._mirror(rel, self._fetch(rel))
        return active.request if active is not None else None

    def remove(self, tenant: str, rid: str) -> bool:
        """Cancel: the object is marked cancelled (if it is still the version read), then deleted.
        False when it was processed meanwhile (then it stays)."""
        rel = request_rel(tenant, rid)
        with self._lock:
            for _ in range(MAX_ATTEMPTS):
                got = self._fetch(rel)
                if got is None or got[1] is None:
                    break  # gone (cancelled elsewhere), or not a request anyone applies: delete it
                etag, req = got
                if req.status == PROCESSED:
                    self._mirror(rel, got)
                    return False
                if req.status == CANCELLED:
                    break
                r = self._send(f"cancelling {rel}", "PUT", rel, encode_request(replace(req, status=CANCELLED)),
                               {"If-Match": etag})
                if r.status_code == 200:
                    break
                if r.status_code not in (409, 412):
                    raise StorageError(f"object store: cancelling {rel} answered HTTP {r.status_code}", status=503)
            else:
                raise StorageError(f"object store: cancelling {rel} lost {MAX_ATTEMPTS} races", status=503)
            self._mirror(rel, None)
            try:  # the tombstone is ignored by every process: a delete that fails costs nothing but a key
                self._send(f"deleting {rel}", "DELETE", rel)
            except StorageError as e:
                log.warning("delete request %s of tenant %s cancelled, its object stays: %s", rid, tenant, e.message)
        return True

    # ---- the deletion pass ----------------------------------------------------------------------
    def mark_processed(self, req: DeleteRequest, deleted_lines: int, now_ms: int) -> None:
        rel = request_rel(req.tenant, req.request_id)
        with self._lock:
            for _ in range(MAX_ATTEMPTS):
                got = self._fetch(rel)
                if got is None or got[1] is None or got[1].status != RECEIVED:
                    self._mirror(rel, got)
                    return  # cancelled meanwhile (with ?force): nothing to mark
                etag, cur = got
                done = replace(cur, status=PROCESSED)
                r = self._send(f"marking {rel} processed", "PUT", rel,
                               encode_request(done, processed_ms=now_ms, deleted_lines=deleted_lines),
                               {"If-Match": etag})
                if r.status_code == 200:
                    self._mirror(rel, (r.headers.get("etag", ""), done))
                    break
                if r.status_code not in (409, 412):
                    raise StorageError(f"object store: marking {rel} processed answered HTTP {r.status_code}",
                                       status=503)
            else:
                raise StorageError(f"object store: marking {rel} processed lost {MAX_ATTEMPTS} races", status=503)
        self.processed[req.tenant] += 1
        self.deleted_lines[req.tenant] += deleted_lines
