"""The `logyard` command: serve, agent, up, and the logcli-like query, labels, series, stats, volume."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from logyard import __version__
from logyard.errors import ConfigError, LogyardError


def _split_listen(listen: str, flag: str = "--listen") -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"{listen!r} is not HOST:PORT, e.g. 127.0.0.1:3100", param_hint=flag)
    if host.startswith("[") and host.endswith("]"):  # [::1]:3100, as in a URL
        host = host[1:-1]
    return host or "0.0.0.0", int(port)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s level=%(levelname)s component=%(name)s msg=%(message)s",
        stream=sys.stderr,
    )


def load_server_config(config: str | None, listen: str | None, data_dir: str | None):
    from logyard.config import load_model
    from logyard.config.server import ServerConfig

    cfg = load_model(config, ServerConfig) if config else ServerConfig()
    if listen:
        host, port = _split_listen(listen)
        cfg.server.http_listen_address = host
        cfg.server.http_listen_port = port
    if data_dir:
        cfg.storage.data_dir = Path(data_dir)
    return cfg


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logyard")
def main() -> None:
    """logyard: centralized log aggregation that speaks Loki's HTTP API.

    \b
    Quick start:
      logyard up                    # server + agent: containers and /var/log, data in ./logyard-data
      logyard up --demo             # the same, with a made-up compose stack's logs
      logyard serve                 # the server alone on 127.0.0.1:3100, data in ./data
      logyard agent --config deploy/agent.yaml
      logyard query '{compose_service="api"} |= "error"'   # read them (or: labels, series, stats, volume)

    Query it as Loki: Grafana (a Loki data source on http://127.0.0.1:3100), logcli, `logyard query`
    or the HTTP API.
    """


def _register_client_commands() -> None:
    from logyard.client.commands import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), help="YAML config file (see docs/configuration.md).")
@click.option("--listen", help="HOST:PORT to serve on (default 127.0.0.1:3100); overrides the config file.")
@click.option("--data-dir", help="Where the WAL, blocks and index live (default ./data); overrides the config file.")
def serve(config: str | None, listen: str | None, data_dir: str | None) -> None:
    """Run the server: Loki's push and query API on one port."""
    from logyard.api.memory import tune_server_memory

    tune_server_memory()
    try:
        cfg = load_server_config(config, listen, data_dir)
    except ConfigError as exc:
        raise click.ClickException(exc.message) from None
    _setup_logging(cfg.server.log_level)
    import uvicorn

    from logyard.api.app import AppServer, create_app
    from logyard.startup import StartupError, bind, writable_dir

    # Checked and bound before anything is logged or started: a server that cannot work says so in
    # one line and exits, instead of logging "listening" and dying or staying up never ready.
    try:
        writable_dir(cfg.storage.data_dir, "data directory")
        sock = bind(cfg.server.http_listen_address, cfg.server.http_listen_port)
    except StartupError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        app = create_app(cfg)  # reads the runtime file of per-tenant overrides
    except ConfigError as exc:
        raise click.ClickException(exc.message) from None
    host, port = sock.getsockname()[:2]  # the bound port, also when the config asked for any (0)
    logging.getLogger("logyard").info("logyard %s listening on http://%s:%d, data in %s", __version__,
                                      f"[{host}]" if ":" in host else host, port, cfg.storage.data_dir)
    server = AppServer(uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=30))
    server.run(sockets=[sock])
    if not server.started:  # the lifespan failed; uvicorn has logged why
        sys.exit(3)


@main.command()
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Promtail-style YAML config (see deploy/agent.yaml and docs/agent.md).")
@click.option("--listen", help="HOST:PORT for /ready, /metrics, /targets (default 127.0.0.1:9080); "
                                "overrides the config file's server.http_listen_address/http_listen_port.")
def agent(config: str, listen: str | None) -> None:
    """Run the collector: discover containers, tail files, ship lines to a Loki-compatible server."""
    from logyard.config import load_model
    from logyard.config.agent import AgentConfig

    if listen is not None:
        _split_listen(listen)  # a malformed flag is a usage error before anything starts
    try:
        cfg = load_model(config, AgentConfig)
    except ConfigError as exc:
        raise click.ClickException(exc.message) from None
    _setup_logging(cfg.server.log_level)
    from logyard.agent.main import run
    from logyard.startup import StartupError

    try:
        run(cfg, listen=listen)
    except ConfigError as exc:  # some checks (metric stages) happen while the agent is built
        raise click.ClickException(exc.message) from None
    except StartupError as exc:  # a taken port, an unusable positions or journal directory
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--listen", help="HOST:PORT of the server (default 127.0.0.1:3100).")
@click.option("--data-dir", help="The server's data, and the agent's config and positions under agent/ "
                                 "(default ./logyard-data).")
@click.option("--agent-listen", default="127.0.0.1:9080", show_default=True,
              help="HOST:PORT of the agent's /targets, /metrics and /ready.")
@click.option("--compose-project", metavar="NAME", help="Read only the containers of this compose project.")
@click.option("--path", "paths", multiple=True, metavar="GLOB",
              help="Also tail these files (`**` allowed); repeat for more globs.")
@click.option("--demo", is_flag=True, help="Also push a made-up compose stack's logs (ollama, postgres, "
                                          "open-webui, grafana, prometheus), so there is something to see.")
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False),
              help="The server's YAML config (docs/configuration.md); --listen and --data-dir override it.")
def up(listen: str | None, data_dir: str | None, agent_listen: str, compose_project: str | None,
       paths: tuple[str, ...], demo: bool, config: str | None) -> None:
    """Run the server and the agent together, reading what this machine has.

    \b
    Found at start, and reported with what was skipped and why:
      Docker containers  when DOCKER_HOST or /var/run/docker.sock answers
      /var/log/*.log     the files that are readable
      --path GLOB        any other files
    Labels: container, compose_service, compose_project, stream (containers); filename, job (files).

    The agent is restarted with back-off if it dies; it resumes from its saved positions, as after
    a restart of `up`. Ctrl-C or SIGTERM stops both.
    """
    from logyard.api.memory import tune_server_memory

    tune_server_memory()  # before anything imports pyarrow
    from logyard.startup import StartupError
    from logyard.up.main import UpOptions, run

    agent_addr = _split_listen(agent_listen, "--agent-listen")
    if config is None:  # without a file, up's own defaults; with one, what it says unless a flag is given
        listen = listen or "127.0.0.1:3100"
        data_dir = data_dir or "./logyard-data"
    try:
        cfg = load_server_config(config, listen, data_dir)
    except ConfigError as exc:
        raise click.ClickException(exc.message) from None
    _setup_logging(cfg.server.log_level)
    opts = UpOptions(server=cfg, config_path=config, agent_listen=agent_addr, compose_project=compose_project,
                     paths=paths, demo=demo)
    try:
        sys.exit(run(opts))
    except (StartupError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None


_register_client_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
