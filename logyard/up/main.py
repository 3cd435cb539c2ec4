"""`logyard up`: the server and the agent started together, watched, and stopped together.

Both run as child processes of this small supervisor. The agent is restarted with back-off when it
dies (its journal and positions make the restart lose and repeat nothing); the server is not: a
server that died needs its operator, so `up` stops the agent and exits with the server's status. The
supervisor holds no data and runs no event loop, so nothing the server or agent does can take it down,
and the server keeps what `logyard serve` does at start (its checks, one line per failure, exit codes).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from logyard.config.server import ServerConfig
from logyard.startup import StartupError, bind, writable_dir
from logyard.storage.format import LOCK_FILE
from logyard.up import demo, sources
from logyard.up.supervisor import Child

log = logging.getLogger("logyard.up")

AGENT_STOP_S = 20.0  # the agent drains for 5 s, then saves its positions
SERVER_STOP_S = 60.0  # uvicorn waits up to 30 s for open requests, then the store flushes
DEMO_PERIOD_S = 1.0


@dataclass(frozen=True)
class UpOptions:
    server: ServerConfig  # --config with --listen and --data-dir applied
    config_path: str | None
    agent_listen: tuple[str, int]
    compose_project: str | None = None
    paths: tuple[str, ...] = ()
    demo: bool = False


def url_host(host: str) -> str:
    """The host to put in a URL for a listen address: a wildcard is reached on loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def preflight(opts: UpOptions) -> None:
    """What would make a child fail at once, said before anything starts, with what to do about it."""
    srv = opts.server.server
    listen = (srv.http_listen_address, srv.http_listen_port)
    if listen == opts.agent_listen:
        raise StartupError(f"the server and the agent cannot both listen on {listen[0]}:{listen[1]}: "
                           "give the agent another port with --agent-listen")
    for (host, port), flag in ((listen, "--listen"), (opts.agent_listen, "--agent-listen")):
        if port == 0:
            continue
        try:
            bind(host, port).close()
        except StartupError as exc:
            raise StartupError(f"{exc} (is logyard already running? stop it, or choose another address with "
                               f"{flag} HOST:PORT)") from None
    data_dir = Path(opts.server.storage.data_dir)
    writable_dir(data_dir, "data directory")
    writable_dir(data_dir / "agent", "agent directory")
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released at once: the server takes it for good
    except BlockingIOError:
        raise StartupError(f"the data directory {data_dir} is in use by another logyard process: stop it, or "
                           "choose another directory with --data-dir") from None
    finally:
        os.close(fd)


def push_demo(push_url: str, stop: threading.Event, seed: int | None = None) -> None:
    """Push the demo stream every second until `stop`; an outage is logged once, not per push."""
    bodies = demo.bodies(np.random.default_rng(seed), time.time_ns)
    failing = False
    with httpx.Client(timeout=10.0) as client:
        while not stop.is_set():
            try:
                client.post(push_url, json=next(bodies)).raise_for_status()
                if failing:
                    log.info("demo: pushing again")
                failing = False
            except httpx.HTTPError as exc:
                if not failing:
                    log.warning("demo: push failed (%s); retrying every %.0fs", exc, DEMO_PERIOD_S)
                failing = True
            stop.wait(DEMO_PERIOD_S)


def _first_query(opts: UpOptions) -> str:
    project = demo.PROJECT if opts.demo else opts.compose_project
    # service_name is on every stream (Loki's discovery, `unknown_service` at worst).
    return f'{{compose_project="{project}"}}' if project else '{service_name=~".+"}'


def _me() -> str:
    """How to run this logyard again: `logyard` when that is it on PATH, else the path it was run by
    (`make run` runs .venv/bin/logyard, which is not on PATH)."""
    argv0 = sys.argv[0]
    found = shutil.which("logyard")
    if found and os.path.realpath(found) == os.path.realpath(argv0):
        return "logyard"
    return os.path.relpath(argv0) if os.path.basename(argv0) == "logyard" else "logyard"


def _addr_flag(server_url: str) -> str:
    return "" if server_url == "http://127.0.0.1:3100" else f" --addr {server_url}"


def banner(opts: UpOptions, server_url: str, agent_url: str, report: list[sources.Source], agent_file: Path) -> str:
    lines = [
        "",
        "logyard is up",
        f"  server      {server_url}   (push: {server_url}/loki/api/v1/push)",
        f"  explore     {server_url}/   (the built-in log explorer)",
        f"  Grafana     add a Loki data source with the URL {server_url}",
        f"  targets     {agent_url}/targets",
        f"  metrics     {server_url}/metrics   {agent_url}/metrics",
        f"  query       {_me()} query{_addr_flag(server_url)} --since 5m '{_first_query(opts)}'",
        f"  tail        {_me()} query{_addr_flag(server_url)} --tail '{_first_query(opts)}'",
        f"  data        {opts.server.storage.data_dir} (agent config and positions in {agent_file.parent})",
        "sources",
        *(f"  {s}" for s in report),
    ]
    if opts.demo:
        lines.append(f"  demo    {', '.join(demo.SERVICES)} (compose_project=\"{demo.PROJECT}\"), pushed every second")
    lines += ["Ctrl-C stops everything.", ""]
    return "\n".join(lines)


def wait_ready(server: Child, url: str, stop: threading.Event) -> bool:
    """Until the server answers /ready: True, or False when it exited or `stop` was asked."""
    with httpx.Client(timeout=1.0) as client:
        while not stop.is_set() and server.exit_code() is None:
            try:
                if client.get(url + "/ready").status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            stop.wait(0.1)
    return False


def run(opts: UpOptions, environ: dict[str, str] | None = None) -> int:
    """Start, watch until SIGINT/SIGTERM or the server's end, stop the agent then the server; the exit
    status. Raises StartupError for what `preflight` finds."""
    environ = dict(os.environ if environ is None else environ)
    preflight(opts)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per /ready poll and demo push would drown the log
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    srv = opts.server.server
    data_dir = Path(opts.server.storage.data_dir)
    server_url = f"http://{url_host(srv.http_listen_address)}:{srv.http_listen_port}"
    agent_url = f"http://{url_host(opts.agent_listen[0])}:{opts.agent_listen[1]}"
    logyard = [sys.executable, "-m", "logyard"]
    server_argv = [*logyard, "serve", "--listen", f"{srv.http_listen_address}:{srv.http_listen_port}",
                   "--data-dir", str(data_dir)]
    server = Child("server", server_argv + (["--config", opts.config_path] if opts.config_path else []))
    agent_file = data_dir / "agent" / "agent.yaml"
    agent = Child("agent", [*logyard, "agent", "--config", str(agent_file),
                            "--listen", f"{opts.agent_listen[0]}:{opts.agent_listen[1]}"])
    demo_thread: threading.Thread | None = None
    status = 0
    server.start()
    log.info("server starting (pid %d)", server.pid)
    try:
        if not wait_ready(server, server_url, stop):
            code = server.exit_code()
            return 0 if code is None else (code or 1)  # stopped while starting, or the server said why

        report, scrape = sources.found(environ, opts.compose_project, list(opts.paths))
        push_url = server_url + "/loki/api/v1/push"
        document = sources.agent_document(push_url, opts.agent_listen, data_dir / "agent" / "positions.yaml",
                                          scrape)
        _, text = sources.agent_config(document, str(agent_file))
        agent_file.write_text(text)
        agent.start()
        log.info("agent starting (pid %d)", agent.pid)
        if opts.demo:
            demo_thread = threading.Thread(target=push_demo, args=(push_url, stop), name="demo", daemon=True)
            demo_thread.start()
        print(banner(opts, server_url, agent_url, report, agent_file), flush=True)

        while not stop.wait(0.2):
            code = server.exit_code()
            if code is not None:
                log.error("the server (pid %d) stopped: exit code %d; stopping the agent", server.pid, code)
                status = code or 1
                break
            agent.watch()
    finally:
        stop.set()
        if demo_thread is not None:
            demo_thread.join(15)
        # the agent first: it delivers what it holds to a server still up, then saves its positions
        agent.stop(AGENT_STOP_S)
        server.stop(SERVER_STOP_S)
        log.info("stopped")
    return status
