"""`logyard --help` advertises only commands that exist, and each of them explains itself."""

from __future__ import annotations

import re
import subprocess
import sys


def run_logyard(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "logyard", *args], capture_output=True, text=True, timeout=60)


def advertised_commands(help_text: str) -> set[str]:
    """Every `logyard WORD` of the text (examples) and every entry of its Commands section."""
    named = set(re.findall(r"\blogyard ([a-z][a-z-]*)\b", help_text))
    listing = help_text.split("Commands:", 1)[1] if "Commands:" in help_text else ""
    listed = set(re.findall(r"^  ([a-z][a-z-]*)\s", listing, re.MULTILINE))
    return named | listed


def test_every_command_logyard_help_advertises_exists():
    top = run_logyard("--help")
    assert top.returncode == 0, top.stderr
    commands = advertised_commands(top.stdout)
    assert {"serve", "agent"} <= commands
    missing = {}
    for command in sorted(commands):
        r = run_logyard(command, "--help")
        if r.returncode != 0:
            missing[command] = r.stderr.strip().splitlines()[-1:]
    assert not missing, f"`logyard --help` advertises commands that fail: {missing}"


def test_advertised_commands_reads_examples_and_the_listing():
    text = "Quick start:\n  logyard serve   # x\n  logyard query '{a=\"b\"}'\n\nCommands:\n  agent  Run it.\n  up     Start.\n"
    assert advertised_commands(text) == {"serve", "query", "agent", "up"}


def test_the_cli_and_the_agent_load_no_pyarrow():
    """`logyard agent` runs beside every container stack: the CLI module and the agent must not pull
    pyarrow (~50 MiB of RSS), which only the server and `logyard export` need."""
    code = "import sys, logyard.cli, logyard.agent.main; print(sorted(m for m in ('pyarrow', 'duckdb') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
