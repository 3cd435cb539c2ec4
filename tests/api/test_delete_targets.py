"""Where each target keeps delete requests and whether it serves the delete API (docs/scaling.md,
Delete requests): with an S3 object store and a key to sign with, the bucket holds them, and readers
take them as the backend does; a writer never serves them; without a key they stay in the node's
deletes.sqlite and a reader does not serve the API (its requests would reach no backend)."""

from __future__ import annotations

import pytest

from logyard.api.app import create_app
from logyard.config import parse_model
from logyard.config.server import ServerConfig

S3 = ("storage:\n  data_dir: {data}\n  object_store:\n    type: s3\n    s3:\n      bucketnames: logs\n"
      "      endpoint: 127.0.0.1:9\n      s3forcepathstyle: true\n      insecure: true\n")
KEYS = "      access_key_id: k\n      secret_access_key: s\n"


@pytest.mark.parametrize("target, keys, serves, shared", [
    ("all", True, True, True),
    ("read", True, True, True),
    ("backend", True, True, True),
    ("write", True, False, False),
    ("read", False, False, False),
    ("backend", False, True, False),
])
def test_the_bucket_holds_delete_requests_for_every_target_that_can_sign(tmp_path, target, keys, serves, shared):
    text = f"target: {target}\n" + S3.format(data=tmp_path / "data") + (KEYS if keys else "")
    app = create_app(parse_model(text, ServerConfig))
    assert ("/loki/api/v1/delete" in {r.path for r in app.routes}) == serves
    assert app.state.server.store.deletes.shared == shared


def test_without_an_object_store_requests_stay_in_the_data_directory(tmp_path):
    app = create_app(parse_model(f"storage:\n  data_dir: {tmp_path / 'data'}\n", ServerConfig))
    assert "/loki/api/v1/delete" in {r.path for r in app.routes}
    assert not app.state.server.store.deletes.shared
