"""File tailing driven poll by poll: partial lines, rotation by rename (also while stopped),
copytruncate, and positions that never run ahead of what a stage still holds. Real files, a real
shipper and journal, and the stand-in receiver on 127.0.0.1."""

from __future__ import annotations

import os

import pytest

from logyard.agent.assemble import Stamper
from logyard.agent.file_target import FileTailer, parse_position
from logyard.agent.metrics import AgentMetrics
from logyard.agent.shipper import Shipper
from logyard.agent.stages.pipeline import build_pipeline
from logyard.agent.targets import TargetRegistry
from logyard.config.agent import ClientConfig
from tests.agent.helpers import wait_until
from tests.agent.receiver import Receiver


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def sink():
    r = Receiver()
    yield r
    r.stop()


def make(tmp_path, sink, path, stages=()):
    shipper = Shipper(tmp_path / "positions.yaml", [ClientConfig(url=sink.url, batchwait=0.01)], AgentMetrics())
    shipper.open()
    shipper.start()
    clock = Clock()
    tailer = FileTailer(str(path), {"job": "t", "filename": str(path)}, build_pipeline(list(stages)), shipper,
                        Stamper(), AgentMetrics(), TargetRegistry(), monotonic=clock)
    return shipper, tailer, clock


def drain(tailer):
    while tailer.poll():
        pass


def test_a_partial_last_line_waits_for_its_newline(tmp_path, sink):
    path = tmp_path / "a.log"
    path.write_text("one\ntw")
    shipper, t, _ = make(tmp_path, sink, path)
    drain(t)
    wait_until(lambda: sink.lines(job="t") == ["one"])
    assert parse_position(shipper.resume(str(path)))[0] == 4  # the end of "one\n", not of "tw"
    with open(path, "a") as f:
        f.write("o\nthree\n")
    drain(t)
    wait_until(lambda: sink.lines(job="t") == ["one", "two", "three"])
    shipper.stop()


def test_rename_rotation_finishes_the_old_file_before_the_new_one(tmp_path, sink):
    path = tmp_path / "a.log"
    f = open(path, "w")
    f.write("old 1\n")
    f.flush()
    shipper, t, clock = make(tmp_path, sink, path)
    drain(t)
    os.rename(path, tmp_path / "a.log.1")
    path.write_text("new 1\n")
    f.write("old 2\nold partial")  # the writer still holds the renamed file
    f.close()
    drain(t)
    clock.t += 5  # past the grace a renamed file gets to finish its last line
    drain(t)
    drain(t)
    wait_until(lambda: len(sink.lines(job="t")) == 4)
    assert sink.lines(job="t") == ["old 1", "old 2", "old partial", "new 1"]
    shipper.stop()


def test_a_file_rotated_while_stopped_is_finished_through_its_inode(tmp_path, sink):
    path = tmp_path / "a.log"
    path.write_text("a\nb\n")
    shipper, t, _ = make(tmp_path, sink, path)
    drain(t)
    wait_until(lambda: sink.lines(job="t") == ["a", "b"])
    t.close()
    shipper.stop()
    with open(path, "a") as f:
        f.write("c\n")
    os.rename(path, tmp_path / "a.log.1")
    path.write_text("d\n")
    shipper, t, clock = make(tmp_path, sink, path)
    drain(t)
    clock.t += 5
    drain(t)
    drain(t)
    wait_until(lambda: len(sink.lines(job="t")) == 4)
    assert sink.lines(job="t") == ["a", "b", "c", "d"]
    shipper.stop()


def test_copytruncate_starts_over_at_the_beginning(tmp_path, sink):
    path = tmp_path / "a.log"
    path.write_text("first line\nsecond line\n")
    shipper, t, _ = make(tmp_path, sink, path)
    drain(t)
    os.truncate(path, 0)
    drain(t)
    with open(path, "a") as f:
        f.write("after\n")
    drain(t)
    wait_until(lambda: len(sink.lines(job="t")) == 3)
    assert sink.lines(job="t") == ["first line", "second line", "after"]
    shipper.stop()


def test_the_position_stays_at_a_held_multiline_block(tmp_path, sink):
    path = tmp_path / "a.log"
    path.write_text("2026 one\n  more\n2026 two\n  held\n")
    shipper, t, _ = make(tmp_path, sink, path, [{"multiline": {"firstline": "^2026", "max_wait_time": "1h"}}])
    drain(t)
    wait_until(lambda: sink.lines(job="t") == ["2026 one\n  more"])
    # "2026 two" is still held: a restart must read it again, so the position is where it starts
    assert parse_position(shipper.resume(str(path)))[0] == len("2026 one\n  more\n")
    shipper.stop()


def test_a_deleted_file_is_forgotten_so_a_new_one_there_starts_at_zero(tmp_path, sink):
    from logyard.agent.assemble import Stamper as _Stamper
    from logyard.agent.file_target import FileTargets
    from logyard.config.agent import ScrapeConfig

    (tmp_path / "logs").mkdir()
    path = tmp_path / "logs" / "a.log"
    path.write_text("first file, long line\n")
    shipper = Shipper(tmp_path / "positions.yaml", [ClientConfig(url=sink.url, batchwait=0.01)], AgentMetrics())
    shipper.open()
    shipper.start()
    sc = ScrapeConfig(job_name="j", static_configs=[{"labels": {"job": "t", "__path__": f"{tmp_path}/logs/*.log"}}])
    files = FileTargets([sc], shipper, _Stamper(), AgentMetrics(), TargetRegistry(), {})
    files.sync()
    drain(files.tailers[str(path)])
    path.unlink()
    drain(files.tailers[str(path)])
    drain(files.tailers[str(path)])  # sees the deletion, closes the file
    files.sync()
    assert str(path) not in files.tailers and shipper.resume(str(path)) is None
    path.write_text("new\n")
    files.sync()
    drain(files.tailers[str(path)])
    wait_until(lambda: sink.lines(job="t") == ["first file, long line", "new"])
    shipper.stop()


def test_paths_resolve_under_the_filesystem_root_and_keep_their_configured_names(tmp_path, sink):
    from logyard.agent.file_target import FileTargets
    from logyard.config.agent import ScrapeConfig

    (tmp_path / "host" / "var" / "log").mkdir(parents=True)
    (tmp_path / "host" / "var" / "log" / "syslog.log").write_text("booted\n")
    shipper = Shipper(tmp_path / "positions.yaml", [ClientConfig(url=sink.url, batchwait=0.01)], AgentMetrics())
    shipper.open()
    shipper.start()
    sc = ScrapeConfig(job_name="j", static_configs=[{"labels": {"job": "t", "__path__": "/var/log/*.log"}}])
    files = FileTargets([sc], shipper, Stamper(), AgentMetrics(), TargetRegistry(), {}, root=str(tmp_path / "host"))
    files.sync()
    (tailer,) = files.tailers.values()
    drain(tailer)
    wait_until(lambda: sink.streams() == {'{filename="/var/log/syslog.log", job="t"}'})
    assert shipper.resume("/var/log/syslog.log").startswith("7:")
    shipper.stop()
