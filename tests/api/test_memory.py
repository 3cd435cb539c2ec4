"""api/memory.py: freed memory is returned once no query runs, and the server's malloc setting."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time

import pyarrow as pa
import pytest

from logyard.api.memory import QueryMemory


def test_freed_memory_is_released_once_the_last_running_query_ends():
    released = threading.Event()
    calls = []
    m = QueryMemory(delay_s=0.01, release=lambda: (calls.append(1), released.set()))
    m.started()
    m.started()
    m.ended()
    time.sleep(0.1)
    assert calls == []  # one query still runs
    m.ended()
    assert released.wait(30) and calls == [1] and m.releases == 1
    time.sleep(0.1)
    assert calls == [1]  # once a quiet spell, not again without a query


def test_a_query_starting_before_the_release_puts_it_off():
    released = threading.Event()
    calls = []
    m = QueryMemory(delay_s=0.05, release=lambda: (calls.append(1), released.set()))
    for _ in range(3):  # a dashboard's burst: each query starts before the last one's delay is up
        m.started()
        m.ended()
    m.started()
    time.sleep(0.3)
    assert calls == []  # a query runs: the release waits for it
    m.ended()
    assert released.wait(30) and calls == [1]
    m.started()
    m.ended()
    assert _eventually(lambda: calls == [1, 1])  # the next quiet spell: one release again


def _eventually(ok, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not ok() and time.monotonic() < deadline:
        time.sleep(0.01)
    return ok()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt and malloc_trim are glibc's")
def test_the_server_process_settings_apply_on_glibc():
    # A fresh interpreter, so that this test process keeps its own allocator settings.
    code = (
        "from logyard.api.memory import release_freed_memory, return_large_frees\n"
        "assert return_large_frees() is True\n"
        "release_freed_memory()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)



def test_the_server_process_puts_arrow_on_jemalloc_before_importing_pyarrow():
    """bench/ingest.py and bench/query.py measure the difference (memory.use_jemalloc). Through the
    environment, so that Arrow's C++ (Parquet decoding) and the decode workers use it too."""
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no jemalloc pool")
    code = ("import os, sys\nfrom logyard.api.memory import tune_server_memory\n"
            "assert 'pyarrow' not in sys.modules\ntune_server_memory()\n"
            "assert os.environ['ARROW_DEFAULT_MEMORY_POOL'] == 'jemalloc'\n"
            "import pyarrow as pa\nassert pa.default_memory_pool().backend_name == 'jemalloc'\n"
            "from logyard.api.memory import use_jemalloc\nassert use_jemalloc() is False\n")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_an_arrow_pool_named_in_the_environment_is_kept():
    code = ("import os\nfrom logyard.api.memory import use_jemalloc\nassert use_jemalloc() is False\n"
            "assert os.environ['ARROW_DEFAULT_MEMORY_POOL'] == 'system'\n")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"})


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_server_process_reuses_freed_megabytes_without_faulting_them_back():
    # Flushes and compaction free and reallocate arrays of a few MiB all the time; with the trim
    # threshold left at glibc's 128 KiB each cycle faulted every page back in (kernel time).
    # Counted in a fresh interpreter (its own allocator settings), on a thread: its own arena.
    code = (
        "import resource, threading\n"
        "import numpy as np\n"
        "from logyard.api.memory import return_large_frees\n"
        "assert return_large_frees()\n"
        "faults = []\n"
        "def churn():\n"
        "    np.ones(4 << 20, dtype=np.uint8)  # the arena grows once\n"
        "    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "    for _ in range(50):\n"
        "        np.ones(4 << 20, dtype=np.uint8)  # 4 MiB: 1024 pages, allocated and freed\n"
        "    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
        "t = threading.Thread(target=churn)\n"
        "t.start()\n"
        "t.join()\n"
        "print(faults[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert int(out.stdout) < 5 * 1024  # once more than one array's pages at most; 50x before


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt and malloc_trim are glibc's")
def test_releasing_returns_the_top_of_the_calling_threads_arena():
    # What the trim threshold keeps at a thread's arena top, malloc_trim leaves; the maintenance
    # thread releases after a compaction that filled its own arena. Resident size in a fresh interpreter.
    code = (
        "import threading\n"
        "from pathlib import Path\n"
        "import numpy as np\n"
        "import pyarrow  # imported by every server before its first release\n"
        "from logyard.api import memory\n"
        "assert memory.return_large_frees()\n"
        "def rss_mib():\n"
        "    return int(Path('/proc/self/statm').read_text().split()[1]) * 4096 / (1 << 20)\n"
        "out = []\n"
        "def work():\n"
        "    np.ones(1 << 20, dtype=np.uint8)\n"
        "    before = rss_mib()\n"
        "    arrays = [np.ones(7 << 20, dtype=np.uint8) for _ in range(3)]  # under the mmap threshold\n"
        "    del arrays\n"
        "    memory.release_freed_memory()\n"
        "    out.append(rss_mib() - before)\n"
        "t = threading.Thread(target=work)\n"
        "t.start()\n"
        "t.join()\n"
        "print(out[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert float(out.stdout) < 3  # MiB; 6 kept without cutting the arena's top


ARENAS_PROBE = """
import ctypes, re, sys, tempfile, threading
from logyard.api import memory
if sys.argv[1] == "limit":
    assert memory.limit_arenas(1)
def work():
    memory._FREE(memory._MALLOC(1 << 16))  # a thread's first malloc takes it an arena
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes, libc.fclose.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p]
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    f = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, f)
    libc.fclose(f)
    print(len(re.findall(r"<heap nr=", open(out.name).read())))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt and malloc_info are glibc's")
def test_the_server_process_keeps_to_one_malloc_arena_however_many_threads_allocate():
    # Each arena keeps freed memory of its own at its top: one arena for the server's threads.
    # Fresh interpreters, so that this test process keeps its own allocator settings.
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}

    def heaps(mode: str) -> int:
        run = subprocess.run([sys.executable, "-c", ARENAS_PROBE, mode], check=True, capture_output=True,
                             text=True, env=env)
        return int(run.stdout)

    assert heaps("default") > 1  # glibc's own choice: an arena for each new thread
    assert heaps("limit") == 1


def test_a_malloc_arena_max_in_the_environment_is_kept():
    code = "from logyard.api.memory import limit_arenas\nassert limit_arenas() is False\n"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "MALLOC_ARENA_MAX": "4"})
