"""A separate process that pushes numbered entries in a loop and records each acknowledged push.

Run: python -m tests.api.pusher URL ACK_FILE COUNT. It appends the push number to ACK_FILE (flushed and
fsynced) only after a 204, so the file is exactly the set of pushes the server acknowledged.
"""

from __future__ import annotations

import os
import sys
import time

import httpx
import orjson

BASE_NS = 1_767_225_600_000_000_000


def body(i: int) -> bytes:
    values = [[str(BASE_NS + i * 1000 + j), f"push={i} entry={j} level=info"] for j in range(5)]
    return orjson.dumps({"streams": [{"stream": {"job": "durability", "shard": str(i % 3)}, "values": values}]})


def main() -> None:
    url, ack_path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(ack_path, "a") as ack, httpx.Client(base_url=url, timeout=5) as client:
        for i in range(count):
            try:
                r = client.post("/loki/api/v1/push", content=body(i), headers={"Content-Type": "application/json"})
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            if r.status_code == 204:
                ack.write(f"{i}\n")
                ack.flush()
                os.fsync(ack.fileno())


if __name__ == "__main__":
    main()
