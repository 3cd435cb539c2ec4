"""`python -m logyard.agent --config FILE --listen HOST:PORT` (the CLI's `logyard agent` does the same)."""

from __future__ import annotations

import argparse
import logging
import sys

from logyard.agent.main import run
from logyard.config.agent import AgentConfig
from logyard.config.loader import load_model
from logyard.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="logyard-agent")
    p.add_argument("--config", required=True)
    p.add_argument("--listen", default="127.0.0.1:9080")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_model(args.config, AgentConfig)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run(config, listen=args.listen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
