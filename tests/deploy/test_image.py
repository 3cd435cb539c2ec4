"""deploy/Dockerfile builds on the test engine, and its image serves: /ready through the image's own
HEALTHCHECK, a push read back, the agent from the same image, a non-root user.

The engine reaches no registry, so the build is FROM a Debian base this test makes itself
(tests/deploy/debian_base.py, cached between runs); `--network host` lets the build reach PyPI and
Debian's mirror. Containers run with no network of their own (the engine has no bridge): the agent
shares the server's network namespace, and requests are made from inside with Python's urllib.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import time

import pytest

from tests.deploy.debian_base import import_base
from tests.support.paths import REPO

pytestmark = [pytest.mark.docker, pytest.mark.slow]

BASE_TAG = "logyard-ci-base:bookworm"
IMAGE = "logyard:test"

PUSH_AND_QUERY = textwrap.dedent("""\
    import json, sys, time, urllib.parse, urllib.request
    now = time.time_ns()
    body = json.dumps({"streams": [{"stream": {"job": "image"}, "values": [[str(now), "hello from the image"]]}]})
    req = urllib.request.Request("http://127.0.0.1:3100/loki/api/v1/push", body.encode(),
                                 {"Content-Type": "application/json"})
    print(urllib.request.urlopen(req, timeout=10).status)
    q = urllib.parse.urlencode({"query": sys.argv[1], "start": now - 3600 * 10**9, "end": now + 10**9})
    print(urllib.request.urlopen("http://127.0.0.1:3100/loki/api/v1/query_range?" + q, timeout=10).read().decode())
""")

QUERY = textwrap.dedent("""\
    import sys, time, urllib.parse, urllib.request
    now = time.time_ns()
    q = urllib.parse.urlencode({"query": sys.argv[1], "start": now - 3600 * 10**9, "end": now + 10**9})
    print(urllib.request.urlopen("http://127.0.0.1:3100/loki/api/v1/query_range?" + q, timeout=10).read().decode())
""")

AGENT_CONFIG = """\
server: {http_listen_address: 127.0.0.1, http_listen_port: 9080}
clients: [{url: "http://127.0.0.1:3100/loki/api/v1/push", batchwait: 200ms}]
positions: {filename: /var/lib/logyard-agent/positions.yaml}
scrape_configs:
  - job_name: files
    static_configs:
      - targets: [localhost]
        labels: {job: appfile, __path__: /logs/*.log}
"""


def _run(docker, *args, timeout=120, check=True):
    out = subprocess.run([*docker, *args], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} failed: {out.stderr[-3000:]}")
    return out


def _wait_healthy(docker, cid: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = _run(docker, "inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", cid).stdout.split()
        if status == ["running", "healthy"]:
            return
        if status and status[0] == "exited":
            break
        time.sleep(0.5)
    raise AssertionError(f"container {cid[:12]} is {status}; logs: {_run(docker, 'logs', cid).stderr[-2000:]}")


@pytest.fixture(scope="module")
def image(docker_engine):
    docker = ["docker", "-H", docker_engine["host"]]
    t0 = time.monotonic()
    try:
        import_base(docker, BASE_TAG)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no Debian base image: {exc}")
    t1 = time.monotonic()
    # The legacy builder: this engine (Debian's docker.io 20.10) has no buildx plugin beside it.
    build = subprocess.run([*docker, "build", "--network", "host", "--build-arg", f"BASE={BASE_TAG}",
                            "-f", "deploy/Dockerfile", "-t", IMAGE, "."], cwd=REPO, capture_output=True, text=True,
                           timeout=900, env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    t2 = time.monotonic()
    size = int(_run(docker, "image", "inspect", "-f", "{{.Size}}", IMAGE).stdout)
    base = int(_run(docker, "image", "inspect", "-f", "{{.Size}}", BASE_TAG).stdout)
    print(f"\nimage {IMAGE}: {size / 1e6:.0f} MB ({(size - base) / 1e6:.0f} MB above the base); "
          f"base ready in {t1 - t0:.0f}s, build {t2 - t1:.0f}s")
    return docker


def test_the_image_runs_as_a_non_root_user(image):
    config = json.loads(_run(image, "image", "inspect", IMAGE).stdout)[0]["Config"]
    assert config["User"] == "logyard"
    out = _run(image, "run", "--rm", "--network", "none", "--entrypoint", "id", IMAGE, "-u").stdout
    assert out.strip() != "0"


def test_the_image_has_no_compiler_and_its_c_extensions_load(image):
    probe = ("import shutil, logyard.ingest._pushscan, logyard.storage._gather; "
             "print(shutil.which('gcc'), shutil.which('cc'))")
    out = _run(image, "run", "--rm", "--network", "none", "--entrypoint", "python3", IMAGE, "-c", probe).stdout
    assert out.split() == ["None", "None"]


EXPLORER_PROBE = """
import urllib.request
for path in ("/", "/ui/js/main.js", "/ui/css/app.css", "/ui/vendor/uplot/uPlot.iife.min.js"):
    with urllib.request.urlopen("http://127.0.0.1:3100" + path, timeout=5) as r:
        print(r.status, len(r.read()) > 0)
"""


def test_the_image_serves_the_explorer_and_its_assets(image):
    server = _run(image, "run", "-d", "--network", "none", "--health-interval", "1s", IMAGE).stdout.strip()
    _wait_healthy(image, server)
    out = _run(image, "exec", server, "python3", "-c", EXPLORER_PROBE).stdout.split()
    assert out == ["200", "True"] * 4


def test_the_server_is_healthy_and_accepts_a_push_and_the_same_image_runs_the_agent(image, tmp_path):
    # The image's own HEALTHCHECK command, run every second rather than every 15 s.
    server = _run(image, "run", "-d", "--network", "none", "--health-interval", "1s", IMAGE).stdout.strip()
    _wait_healthy(image, server)
    out = _run(image, "exec", server, "python3", "-c", PUSH_AND_QUERY, '{job="image"}').stdout.splitlines()
    assert out[0] == "204"
    [stream] = json.loads(out[1])["data"]["result"]
    assert [v[1] for v in stream["values"]] == ["hello from the image"]

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("first line from a file\nsecond line from a file\n")
    (tmp_path / "agent.yaml").write_text(AGENT_CONFIG)
    agent = _run(image, "run", "-d", "--network", f"container:{server}", "--health-interval", "1s",
                 "-e", "LOGYARD_HEALTH_URL=http://127.0.0.1:9080/ready",
                 "-v", f"{tmp_path / 'agent.yaml'}:/etc/logyard/agent.yaml:ro", "-v", f"{logs}:/logs:ro",
                 IMAGE, "agent", "--config", "/etc/logyard/agent.yaml").stdout.strip()
    _wait_healthy(image, agent)
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while time.monotonic() < deadline and len(lines) < 2:
        result = json.loads(_run(image, "exec", server, "python3", "-c", QUERY, '{job="appfile"}').stdout)
        lines = sorted(v[1] for s in result["data"]["result"] for v in s["values"])
        time.sleep(0.5)
    assert lines == ["first line from a file", "second line from a file"]
