"""`python -m logyard.agent --config FILE --listen HOST:PORT` (the CLI's `logyard agent` does the same)."""

from __future__ import annotations

import argparse
import logging
import sys

from logyard.agent.main import run
from logyard.config.agent import AgentConfig
from logyard.config.loader import load_model
from logyard.errors import ConfigError
from logyard.startup import StartupError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="logyard-agent")
    p.add_argument("--config", required=True)
    p.add_argument("--listen", help="HOST:PORT; default: the config's server section, else 127.0.0.1:9080")
    args = p.parse_args(argv)
    try:
        config = load_model(args.config, AgentConfig)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=getattr(logging, config.server.log_level.upper()),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run(config, listen=args.listen)
    except (ConfigError, StartupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
