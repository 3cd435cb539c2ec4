"""Create the bucket a logyard config names (storage.object_store.s3), once the store answers.

Run by the one-shot `bucket` service of docker-compose.scalable.yml before any logyard node starts
(logyard expects the bucket to exist): `python3 create_bucket.py CONFIG`. A bucket already there is
left as it is, so the service can run at every `up`.
"""

from __future__ import annotations

import sys
import time

import pyarrow.fs as pafs

from logyard.config.loader import load_model
from logyard.config.server import ServerConfig


def create_bucket(config_path: str, timeout_s: float = 120.0) -> str:
    s3 = load_model(config_path, ServerConfig).storage.object_store.s3
    fs = pafs.S3FileSystem(endpoint_override=s3.endpoint or None, scheme="http" if s3.insecure else "https",
                           region=s3.region or "us-east-1", access_key=s3.access_key_id or None,
                           secret_key=s3.secret_access_key or None, allow_bucket_creation=True,
                           force_virtual_addressing=bool(s3.endpoint) and not s3.s3forcepathstyle)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if fs.get_file_info(s3.bucketnames).type != pafs.FileType.Directory:
                fs.create_dir(s3.bucketnames)
            return s3.bucketnames
        except OSError as e:  # the store is still starting
            if time.monotonic() > deadline:
                raise SystemExit(f"bucket {s3.bucketnames} at {s3.endpoint}: {e}") from None
            time.sleep(1)


if __name__ == "__main__":
    print(f"bucket {create_bucket(sys.argv[1])} ready")
