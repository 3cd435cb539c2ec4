"""Signed S3 requests for the small objects several processes update together: the backend's lease
(lease.py) and the delete requests of a shared bucket (delete_bucket.py).

They need conditional writes (`If-None-Match: *` creates an object only when there is none,
`If-Match: <etag>` replaces exactly the version read) and ETags in listings, which pyarrow's S3
filesystem (the client of the blocks, objects.py) cannot send or return; so these requests are signed
here (AWS Signature Version 4) and sent with httpx. AWS S3, MinIO, GCS and SeaweedFS honour the
conditions; a store that ignores them lets two writers both win.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote

import httpx

LIST_PAGE = 1000  # keys per ListObjectsV2 page (S3's maximum)
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@dataclass(frozen=True)
class S3Target:
    """Where and as whom to send signed requests: `base` is scheme://host[:port] (path-style, the
    bucket first in the path) or the bucket's virtual host."""

    base: str
    bucket_in_path: str  # "/bucket" for path style, "" for a virtual-hosted bucket
    region: str
    access_key: str
    secret_key: str


def signed_headers(method: str, url: httpx.URL, body: bytes, region: str, access_key: str, secret_key: str,
                   now: dt.datetime) -> dict[str, str]:
    """The headers that sign a request with AWS Signature Version 4 (service s3). The URL's query
    must already be canonical (keys sorted, each key and value URI-encoded): `canonical_query`."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    payload = hashlib.sha256(body).hexdigest()
    host = url.netloc.decode()
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
    names = sorted(headers)
    canonical = "\n".join([method, quote(url.path, safe="/-_.~"), url.query.decode(),
                           "".join(f"{k}:{headers[k]}\n" for k in names), ";".join(names), payload])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {"x-amz-content-sha256": payload, "x-amz-date": amz_date,
            "authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, "
                             f"Signature={signature}"}


def canonical_query(params: dict[str, str]) -> str:
    """A query string as SigV4 signs it: keys sorted, keys and values URI-encoded (`/` too)."""
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items()))


@dataclass(frozen=True)
class Listed:
    rel: str  # the key relative to the client's prefix
    etag: str


class SignedBucket:
    """Signed requests on the objects under `prefix` of a bucket; thread-safe (httpx's client is)."""

    def __init__(self, target: S3Target, prefix: str = "", *, timeout_s: float = 10.0) -> None:
        self.target = target
        self.prefix = prefix.strip("/")
        self._client = httpx.Client(timeout=timeout_s)

    def key(self, rel: str) -> str:
        return "/".join(p for p in (self.prefix, rel) if p)

    def url(self, rel: str) -> str:
        return self.target.base + self.target.bucket_in_path + "/" + self.key(rel)

    def request(self, method: str, rel: str, body: bytes = b"", headers: dict[str, str] | None = None) -> httpx.Response:
        """One signed request on the object `rel`; raises httpx.HTTPError when the store does not answer."""
        return self._send(method, httpx.URL(self.url(rel)), body, headers)

    def _send(self, method: str, url: httpx.URL, body: bytes = b"", headers: dict[str, str] | None = None) -> httpx.Response:
        t = self.target
        signed = signed_headers(method, url, body, t.region, t.access_key, t.secret_key, dt.datetime.now(dt.timezone.utc))
        return self._client.request(method, url, content=body, headers={**signed, **(headers or {})})

    def list(self, under: str) -> list[Listed]:
        """Every object under `under` (ListObjectsV2, page by page), with its ETag. Raises
        httpx.HTTPError when the store does not answer, or answers anything but 200."""
        prefix = self.key(under)
        out: list[Listed] = []
        token = ""
        cut = len(self.prefix) + 1 if self.prefix else 0
        while True:
            params = {"list-type": "2", "prefix": prefix, "max-keys": str(LIST_PAGE)}
            if token:
                params["continuation-token"] = token
            url = httpx.URL(self.target.base + (self.target.bucket_in_path or "") + "/?" + canonical_query(params))
            r = self._send("GET", url)
            if r.status_code != 200:
                raise httpx.HTTPStatusError(f"listing {prefix} answered {r.status_code}: {r.text[:200]}",
                                            request=r.request, response=r)
            try:
                root = ET.fromstring(r.content)
            except ET.ParseError as e:
                raise httpx.DecodingError(f"listing {prefix}: the answer is not XML: {e}", request=r.request) from e
            for item in root.iter(f"{_S3_NS}Contents"):
                key = item.findtext(f"{_S3_NS}Key", "")
                out.append(Listed(key[cut:], item.findtext(f"{_S3_NS}ETag", "")))
            token = root.findtext(f"{_S3_NS}NextContinuationToken", "")
            if root.findtext(f"{_S3_NS}IsTruncated", "false") != "true" or not token:
                return out

    def close(self) -> None:
        self._client.close()
