"""Every `logyard query|labels|series|stats|volume` example, in the docs' ```sh blocks and in the
commands' --help, runs against the conformance corpus and exits 0: the flags exist and the LogQL
parses; the docs' examples also print something. Each is asked over the corpus' window (appended
flags win over the example's own), a `--tail` example without following."""

from __future__ import annotations

import re
import shlex

import pytest

from logyard.client.commands import COMMANDS
from tests.client.conftest import cli
from tests.support.corpus import END_NS, START_NS
from tests.support.paths import REPO

pytestmark = pytest.mark.slow
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
COMMAND = re.compile(r"^\s*logyard (query|labels|series|stats|volume)\b.*$", re.M)


def examples_in(text: str) -> list[str]:
    return [m.group(0).strip() for m in COMMAND.finditer(text)]


def doc_examples() -> list[tuple[str, str]]:
    found = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for block in SH_BLOCK.finditer(path.read_text()):
            found += [(str(path.relative_to(REPO)), cmd) for cmd in examples_in(block.group(1))]
    return found


def help_examples() -> list[tuple[str, str]]:
    return [(f"logyard {c.name} --help", cmd) for c in COMMANDS for cmd in examples_in(c.help or "")]


def argv(example: str) -> list[str]:
    """The example's arguments up to a pipe or a redirection, without `--tail`, over the corpus."""
    words = []
    for word in shlex.split(example, comments=True)[1:]:
        if word in ("|", ">", ">>"):
            break
        if word not in ("--tail", "-t", "--follow", "-f"):
            words.append(word)
    window = ["--now", str(END_NS)] if "--instant" in words else ["--from", str(START_NS), "--to", str(END_NS)]
    return words + window + ["-q"]


DOCS = doc_examples()
HELP = help_examples()


def test_the_docs_and_the_help_have_examples():
    assert len(DOCS) >= 10 and len(HELP) >= 15


@pytest.mark.parametrize(("where", "example"), DOCS, ids=[e for _, e in DOCS])
def test_doc_example_runs_and_prints(corpus_server, where, example):
    r = cli(*argv(example), "--addr", corpus_server.url)
    assert r.exit_code == 0, f"{where}: {example}\n{r.stderr}"
    assert r.stdout.strip() not in ("", "[]"), f"{where}: {example} printed nothing"


@pytest.mark.parametrize(("where", "example"), HELP, ids=[e for _, e in HELP])
def test_help_example_runs(corpus_server, where, example):
    r = cli(*argv(example), "--addr", corpus_server.url)
    assert r.exit_code == 0, f"{where}: {example}\n{r.stderr}"
