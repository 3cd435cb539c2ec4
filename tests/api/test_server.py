"""Server.open (api/server.py): a data directory another server holds is one line and exit 2,
not a server that never gets ready."""

from __future__ import annotations

import subprocess
import sys

from tests.support.server import REPO, ServerProcess, free_port


def test_second_server_on_the_same_data_dir_exits_with_a_clear_error(tmp_path):
    data = tmp_path / "data"
    with ServerProcess(data):
        r = subprocess.run([sys.executable, "-m", "logyard", "serve", "--listen", f"127.0.0.1:{free_port()}",
                            "--data-dir", str(data)], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 2
    assert "cannot use the data directory" in r.stderr
