"""The decode worker's process setup: what `_warm` changes, checked in a fresh interpreter so that
this test process keeps its own allocator settings."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time

import pytest

from logyard.api.ingest_pool import SHM_DIR, DecodeOptions, DecodePool, decode_body, process_alive
from logyard.ingest.validate import DEFAULT_LIST


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_workers_keep_freed_memory_on_glibc():
    code = (
        "from logyard.api.ingest_pool import keep_freed_memory\n"
        "assert keep_freed_memory() is True\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


BODY = b'{"streams":[{"stream":{"job":"a"},"values":[["1767139200000000000","level=warn x",{"k":"v"}]]}]}'
OPTS = DecodeOptions(262144, tuple(DEFAULT_LIST), True, None, 0)


@pytest.mark.parametrize("use_shm", [False, pytest.param(True, marks=pytest.mark.skipif(
    not SHM_DIR.is_dir(), reason="no /dev/shm"))])
def test_a_worker_answers_like_inline_decoding(use_shm):
    pool = DecodePool(workers=1, use_shm=use_shm)
    try:
        pool.start_workers(timeout=60)
        remote = pool.submit("t", BODY, "application/json", None, OPTS).result(timeout=60)
        assert (remote.shm is not None) == use_shm
        payload = pool.payload(remote)
    finally:
        pool.shutdown()
    inline = decode_body("t", BODY, "application/json", None, OPTS)
    assert bytes(payload) == inline.payload and remote.lines == inline.lines == 1
    if use_shm:
        assert not (SHM_DIR / remote.shm).exists()  # unlinked once mapped


def test_start_workers_spawns_every_worker_before_any_push():
    pool = DecodePool(workers=2, use_shm=False)
    try:
        started = pool.start_workers(timeout=60)
        assert len(started) == 2 and os.getpid() not in started
        assert started == set(pool._pool._processes)  # the executor's own record of its workers
    finally:
        pool.shutdown()
    assert DecodePool(workers=0).start_workers() == set()


def test_workers_run_at_the_niceness_asked_above_the_server():
    pool = DecodePool(workers=1, use_shm=False, nice=7)
    try:
        pool.start_workers(timeout=60)
        pool.submit("t", BODY, "application/json", None, OPTS).result(timeout=60)
        pids = list(pool._pool._processes)  # the executor's own record of its workers
        assert pids and all(os.getpriority(os.PRIO_PROCESS, p) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 7)
                            for p in pids)
    finally:
        pool.shutdown()


@pytest.mark.skipif(not SHM_DIR.is_dir(), reason="no /dev/shm")
def test_payload_files_nobody_takes_are_removed():
    pool = DecodePool(workers=1, use_shm=True)
    try:
        pool.start_workers(timeout=60)
        dropped = pool.submit("t", BODY, "application/json", None, OPTS)
        dropped.result(timeout=60)
        DecodePool.discard(dropped)  # a cancelled request's result
        assert not (SHM_DIR / dropped.result().shm).exists()
        left = pool.submit("t", BODY, "application/json", None, OPTS).result(timeout=60)
        assert (SHM_DIR / left.shm).exists()
    finally:
        pool.shutdown()
    assert not (SHM_DIR / left.shm).exists()  # shutdown removes what is left


@pytest.mark.skipif(not SHM_DIR.is_dir(), reason="no /dev/shm")
def test_a_new_pool_removes_payload_files_of_dead_servers():
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = SHM_DIR / f"logyard-{int(child.stdout)}-1-0"
    alive = SHM_DIR / f"logyard-{os.getpid()}-1-0"
    dead.write_bytes(b"x")
    alive.write_bytes(b"x")
    try:
        DecodePool(workers=0, use_shm=True)
        assert not dead.exists() and alive.exists()
    finally:
        dead.unlink(missing_ok=True)
        alive.unlink(missing_ok=True)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="a zombie is told from /proc")
def test_a_worker_ends_when_its_server_has_exited_but_is_not_yet_reaped():
    server = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, server.pid, os.WEXITED | os.WNOWAIT)  # exited, left unreaped: a zombie
        code = f"from logyard.api.ingest_pool import _exit_with\n_exit_with({server.pid}, every_s=0.05)\n"
        worker = subprocess.run([sys.executable, "-c", code], timeout=30)
        assert worker.returncode == 0
    finally:
        server.wait()


@pytest.mark.parametrize("stat, alive", [
    (b"4242 (python3) S 1 4242", True),
    (b"4242 (python3) R 1 4242", True),
    (b"4242 (python3) Z 1 4242", False),
    (b"4242 (python3) X 1 4242", False),
    (b"4242 (a) Z (b)) S 1 4242", True),  # the command name may hold ") Z ": the state follows the last ")"
])
def test_process_alive_reads_the_state_after_the_command_name(tmp_path, stat, alive):
    (tmp_path / str(os.getpid())).mkdir()
    (tmp_path / str(os.getpid()) / "stat").write_bytes(stat)
    assert process_alive(os.getpid(), proc=tmp_path) is alive


def test_process_alive_without_procfs_trusts_the_signal(tmp_path):
    assert process_alive(os.getpid(), proc=tmp_path / "no-proc") is True
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: the pid is free
    assert process_alive(child.pid) is False


def test_no_worker_starts_before_the_first_push():
    pool = DecodePool(workers=2, use_shm=False)
    try:
        assert pool.worker_pids() == set()
        assert pool.submit("t", BODY, "application/json", None, OPTS).result(timeout=60).lines == 1
        assert pool.worker_pids()
    finally:
        pool.shutdown()


@pytest.mark.parametrize("cores, workers", [(1, 1), (2, 1), (4, 3), (64, 63)])
def test_one_worker_per_core_but_the_servers_own(cores, workers):
    from logyard.api.ingest_pool import default_workers
    assert default_workers(cores) == workers


def test_idle_workers_exit_and_the_next_push_starts_them_again():
    pool = DecodePool(workers=1, use_shm=False, idle_s=3600.0)  # the reaper thread would wait an hour
    try:
        pool.start_workers(timeout=60)
        pool.submit("t", BODY, "application/json", None, OPTS).result(timeout=60)
        first = pool.worker_pids()
        assert len(first) == 1
        assert not pool.stop_if_idle()  # not idle for long enough yet
        busy = pool._submit(time.sleep, 1.0)
        assert not pool.stop_if_idle(now=time.monotonic() + 7200)  # a task in flight keeps them
        busy.result(timeout=60)
        assert pool.stop_if_idle(now=time.monotonic() + 7200)
        assert pool.worker_pids() == set() and not any(process_alive(p) for p in first)
        again = pool.submit("t", BODY, "application/json", None, OPTS).result(timeout=60)
        assert again.lines == 1 and pool.worker_pids() and pool.worker_pids().isdisjoint(first)
    finally:
        pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit("t", BODY, "application/json", None, OPTS)


def test_workers_stay_without_an_idle_timeout():
    pool = DecodePool(workers=1, use_shm=False)
    try:
        pool.start_workers(timeout=60)
        pool.submit("t", BODY, "application/json", None, OPTS).result(timeout=60)
        assert not pool.stop_if_idle(now=time.monotonic() + 7200) and pool.worker_pids()
    finally:
        pool.shutdown()
