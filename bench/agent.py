"""How fast the agent ships lines from files: lines/s, its CPU (cores) and peak RSS.

    python bench/agent.py [--lines 1000000] [--files 4] [--server logyard|sink]

Writes the lines first, then starts `python -m logyard.agent` on them and times until
`promtail_sent_entries_total` reaches the total. `--server logyard` pushes to a real `logyard serve`
(needs the CLI); `--server sink` to a receiver process that reads each body and answers 204, so the
figure is the agent's alone. Prints a stable table so two commits compare.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.agent.helpers import AgentProcess, LogyardServer, free_port, wait_until  # noqa: E402

SINK = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a): pass
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers()
        def do_GET(self):
            self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
)

STAGES = """    pipeline_stages:
      - regex: {expression: '^(?P<ts>\\S+) (?P<method>[A-Z]+)'}
      - timestamp: {source: ts, format: RFC3339}
      - logfmt: {mapping: {seq: ""}}
      - structured_metadata: {seq: ""}
"""

WORDS = ["GET", "/api/v1/items", "200", "user=alice", "latency_ms=12", "level=info", "msg=\"request served\"",
         "trace_id=4bf92f3577b34da6", "POST", "/login", "500", "level=error", "upstream timeout"]


def write_files(d: Path, lines: int, files: int) -> int:
    total = 0
    per = lines // files
    for f in range(files):
        with open(d / f"app{f}.log", "w") as out:
            buf = []
            for i in range(per):
                w = WORDS[i % len(WORDS)]
                buf.append(f"2026-01-01T00:00:{i % 60:02d}Z {w} seq={i} file={f} " + "z" * (40 + i % 90) + "\n")
                if len(buf) == 10000:
                    out.write("".join(buf))
                    buf = []
            out.write("".join(buf))
        total += per
    return total


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sent(agent: AgentProcess) -> float:
    m = re.search(r"^promtail_sent_entries_total\{[^}]*\} (\S+)$", agent.get("/metrics").text, re.M)
    return float(m.group(1)) if m else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--server", choices=["sink", "logyard"], default="sink")
    ap.add_argument("--stages", action="store_true",
                    help="run lines through regex + timestamp + logfmt stages (per-line Python)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        d = Path(tmp)
        (d / "logs").mkdir()
        total = write_files(d / "logs", args.lines, args.files)
        size = sum(p.stat().st_size for p in (d / "logs").iterdir())
        os.sync()  # the files exist before the agent starts; their writeback is not the agent's cost
        server = sink = None
        if args.server == "logyard":
            server = LogyardServer(d / "data", d / "server.log")
            url = server.url
        else:
            port = free_port()
            sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)])
            url = f"http://127.0.0.1:{port}/loki/api/v1/push"
            wait_until(lambda: _up(port), 10, "sink")
        (d / "agent.yaml").write_text(
            f"clients: [{{url: '{url}', batchwait: 200ms}}]\n"
            f"positions: {{filename: '{d}/positions.yaml', sync_period: 1s}}\n"
            f"scrape_configs:\n  - job_name: bench\n    static_configs:\n"
            f"      - labels: {{job: bench, __path__: '{d}/logs/*.log'}}\n"
            + (STAGES if args.stages else "")
        )
        agent = AgentProcess(d / "agent.yaml", d / "agent.log")
        t_start = time.monotonic()
        agent.start()
        t0 = time.monotonic()  # from /ready: start-up (imports) is not shipping
        cpu0 = cpu_seconds(agent.proc.pid)
        wait_until(lambda: sent(agent) >= total, 600, "all lines sent")
        wall = time.monotonic() - t0
        cpu = cpu_seconds(agent.proc.pid) - cpu0
        rss = agent.rss_kib() / 1024
        agent.stop()
        if server:
            server.stop()
        if sink:
            sink.terminate()
            sink.wait()
    print(f"{'figure':<34}{'value':>14}")
    print(f"{'target':<34}{args.server:>14}")
    print(f"{'stages':<34}{'regex+ts+logfmt' if args.stages else 'none':>14}")
    print(f"{'lines':<34}{total:>14,}")
    print(f"{'MB of files':<34}{size / 1e6:>14.1f}")
    print(f"{'start-up seconds (to /ready)':<34}{t0 - t_start:>14.2f}")
    print(f"{'wall seconds (/ready to all acked)':<34}{wall:>14.2f}")
    print(f"{'lines/s':<34}{total / wall:>14,.0f}")
    print(f"{'agent CPU seconds (shipping)':<34}{cpu:>14.2f}")
    print(f"{'agent cores (CPU s / wall s)':<34}{cpu / wall:>14.2f}")
    print(f"{'agent peak RSS MiB':<34}{rss:>14.1f}")
    print(f"{'agent CPU seconds for start-up':<34}{cpu0:>14.2f}")


def _up(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
        return True
    except httpx.TransportError:
        return False


if __name__ == "__main__":
    main()
