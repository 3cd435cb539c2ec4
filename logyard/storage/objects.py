"""The object store: where blocks live when the data directory is not the last word on them.

With an object store configured (S3 or any S3-compatible server: MinIO, SeaweedFS, Ceph RGW, GCS's
S3 API), the store's bucket is the single source of truth for everything flushed. A block is one
object, under the same relative name it has in the data directory (`blocks/<tenant>/<window>/<name>.parquet`),
and it describes itself: its footer holds its tenant and window, the label sets of its streams, their
per-stream statistics and the blocks it replaces (block.py). So the bucket's listing plus the footers
rebuild the whole index; `index.sqlite` and the block files in the data directory are a cache of it.

An object is written once, in one request that either lands whole or not at all (S3's PUT and
multipart completion are atomic), and never changed; it is only deleted (replaced by compaction,
expired by retention). The client is pyarrow's S3 filesystem (the AWS C++ SDK: ranged GETs,
multipart uploads, retries), not code of ours; any pyarrow `FileSystem` works, which tests use too.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from logyard.errors import StorageError
from logyard.storage import format as F

log = logging.getLogger(__name__)

UPLOAD_CHUNK_BYTES = 8 << 20  # a multipart upload's part size (S3's minimum is 5 MiB)


def object_store_error(what: str, exc: BaseException) -> StorageError:
    """503: the store did not answer as it should (unreachable, refused, throttled); nothing was lost,
    the caller may retry. The SDK's message names bucket and key, never a local path."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StorageError(f"object store: {what} failed: {reason}", status=503)


def is_store_failure(exc: BaseException) -> bool:
    """Whether an error of pyarrow's S3 filesystem is the store's trouble (network, HTTP status)
    rather than bytes that do not decode: the AWS SDK's errors say "AWS Error"."""
    return isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError) and "AWS Error" in str(exc)


@dataclass(frozen=True)
class StoredObject:
    rel: str  # the name relative to the store's root, as in the data directory
    size: int


class ObjectStore:
    """Blocks under `root` ("bucket/prefix") of a pyarrow FileSystem. Thread-safe (pyarrow's are)."""

    def __init__(self, fs: pafs.FileSystem, root: str, description: str) -> None:
        self.fs = fs
        self.root = root.strip("/")
        self.description = description  # for logs: s3://bucket/prefix at endpoint

    def key(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def put(self, local: Path, rel: str) -> None:
        """Upload a local file; returns once the store acknowledged the whole object (the output
        stream's close completes the PUT or the multipart upload). Raises StorageError (503)."""
        try:
            pafs.copy_files(str(local), self.key(rel), source_filesystem=pafs.LocalFileSystem(),
                            destination_filesystem=self.fs, chunk_size=UPLOAD_CHUNK_BYTES, use_threads=False)
        except (OSError, pa.ArrowException) as e:
            raise object_store_error(f"uploading {rel}", e) from e

    def get(self, rel: str, local: Path) -> None:
        """Download an object whole to `local` (written to a temporary name, then renamed)."""
        tmp = local.with_name(local.name + F.TMP_SUFFIX)
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            pafs.copy_files(self.key(rel), str(tmp), source_filesystem=self.fs,
                            destination_filesystem=pafs.LocalFileSystem(), chunk_size=UPLOAD_CHUNK_BYTES,
                            use_threads=False)
        except (OSError, pa.ArrowException) as e:
            tmp.unlink(missing_ok=True)
            raise object_store_error(f"downloading {rel}", e) from e
        tmp.replace(local)

    def open(self, rel: str) -> pa.NativeFile:
        """A random-access file over the object (a HEAD request): each read is a ranged GET."""
        return self.fs.open_input_file(self.key(rel))

    def list(self, under: str = F.BLOCKS_DIR) -> list[StoredObject]:
        """Every block object under `under`, by name. Raises StorageError (503)."""
        sel = pafs.FileSelector(self.key(under), recursive=True, allow_not_found=True)
        try:
            infos = self.fs.get_file_info(sel)
        except (OSError, pa.ArrowException) as e:
            raise object_store_error(f"listing {self.description}", e) from e
        cut = len(self.root) + 1
        return sorted((StoredObject(i.path[cut:], i.size) for i in infos
                       if i.type == pafs.FileType.File and i.path.endswith(F.BLOCK_SUFFIX)), key=lambda o: o.rel)

    def delete(self, rel: str) -> None:
        """Delete an object (one already gone is fine). Raises StorageError (503)."""
        try:
            self.fs.delete_file(self.key(rel))
        except FileNotFoundError:
            pass
        except (OSError, pa.ArrowException) as e:
            raise object_store_error(f"deleting {rel}", e) from e

    def quarantine(self, rel: str) -> str:
        """Move a block that does not decode to `quarantine/` in the store, out of every listing."""
        dest = f"{F.QUARANTINE_DIR}/{rel.replace('/', '_')}.{time.time_ns()}"
        try:
            self.fs.move(self.key(rel), self.key(dest))
        except (OSError, pa.ArrowException) as e:
            raise object_store_error(f"moving {rel} to {F.QUARANTINE_DIR}/", e) from e
        return dest


def s3_store(*, bucket: str, prefix: str = "", endpoint: str = "", region: str = "", access_key_id: str = "",
             secret_access_key: str = "", force_path_style: bool = False, insecure: bool = False,
             connect_timeout_s: float = 5.0, request_timeout_s: float = 30.0, max_attempts: int = 3) -> ObjectStore:
    """An ObjectStore on an S3-compatible server, Loki's `storage_config.aws` semantics: no endpoint is
    AWS itself (virtual-hosted buckets); an endpoint is another server, addressed virtual-hosted
    unless `force_path_style` (MinIO and SeaweedFS want path style); no keys uses the AWS default
    credential chain (environment, profile, instance role). The timeouts bound how long a flush
    waits on a store that does not answer before it fails and is retried."""
    scheme = "http" if insecure else "https"
    host = endpoint
    for s in ("http://", "https://"):
        if host.startswith(s):
            scheme, host = s[:-3], host[len(s):]
    kwargs: dict = dict(
        region=region or None, scheme=scheme, endpoint_override=host.rstrip("/") or None,
        connect_timeout=connect_timeout_s, request_timeout=request_timeout_s,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=max_attempts),
        force_virtual_addressing=bool(host) and not force_path_style,
    )
    if access_key_id or secret_access_key:
        kwargs.update(access_key=access_key_id, secret_key=secret_access_key)
    fs = pafs.S3FileSystem(**kwargs)
    root = f"{bucket}/{prefix.strip('/')}".rstrip("/")
    where = f" at {scheme}://{host}" if host else ""
    return ObjectStore(fs, root, f"s3://{root}{where}")
