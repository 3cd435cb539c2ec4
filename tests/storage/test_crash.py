"""`kill -9` in the middle of appends (and of background flushes) loses no completed append."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from logyard.storage.store import Store
from tests.storage.conftest import HOUR, T0, rows

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from logyard.ingest.model import PushStream
    from logyard.labels import LabelSet
    from logyard.storage.store import Store

    store = Store(sys.argv[1], head_max_bytes=20_000, clock=lambda: {now})
    store.open()
    store.start_background()  # flushes run while we append, so kills land inside them too
    i = 0
    while True:
        streams = [PushStream(LabelSet([("app", f"a{{k}}"), ("service_name", "s")]),
                              np.array([{t0} + i * 1000 + k], dtype=np.int64), [f"line {{i}} {{k}} " + "x" * 200], [""])
                   for k in range(3)]
        store.append("t", streams)
        print(i, flush=True)  # printed only once append returned: acknowledged
        i += 1
    """
)


def test_kill_minus_nine_loses_no_acknowledged_append(tmp_path: Path):
    data = tmp_path / "data"
    script = WRITER.format(now=T0 / 1e9 + 86400, t0=T0)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    acked = -1
    for round_ in range(3):  # kill, reopen (replay + continue writing), kill again
        proc = subprocess.Popen([sys.executable, "-c", script, str(data)], stdout=subprocess.PIPE, env=env, text=True)
        assert proc.stdout is not None
        target = 300 * (round_ + 1)
        for line in proc.stdout:
            acked = max(acked, int(line))
            if acked >= target:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for line in proc.stdout:  # acknowledgements already in the pipe count too
            acked = max(acked, int(line))
        store = Store(data)
        store.open()
        ids = list(store.streams("t", [], T0, T0 + HOUR))
        got = {r[2].split(" x")[0].rstrip("x ") for r in rows(store.read("t", ids, T0, T0 + HOUR))}
        store.close()
        # Each round restarts its counter at 0 and re-sends the same lines; they dedup exactly.
        expected = {f"line {i} {k}" for i in range(acked + 1) for k in range(3)}
        assert expected <= got, sorted(expected - got)[:5]
        assert any(f.name.endswith(".parquet") for f in data.rglob("*")), "no flush ran during the test"
