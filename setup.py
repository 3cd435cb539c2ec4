"""The C fast paths of ingest and storage (logyard/*/_*.c); everything else is in pyproject.toml."""

from setuptools import Extension, setup

_FLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"]

setup(
    ext_modules=[
        Extension("logyard.ingest._levelscan", ["logyard/ingest/_levelscan.c"], extra_compile_args=_FLAGS),
        Extension("logyard.ingest._pushscan", ["logyard/ingest/_pushscan.c"], extra_compile_args=_FLAGS),
        Extension("logyard.ingest._metajson", ["logyard/ingest/_metajson.c"], extra_compile_args=_FLAGS),
        Extension("logyard.logql._parsed", ["logyard/logql/_parsed.c"], extra_compile_args=_FLAGS),
        Extension("logyard.logql._pattern", ["logyard/logql/_pattern.c"], extra_compile_args=_FLAGS),
        Extension("logyard.storage._gather", ["logyard/storage/_gather.c"], extra_compile_args=_FLAGS),
        Extension("logyard.storage._tsembed", ["logyard/storage/_tsembed.c"], extra_compile_args=_FLAGS),
    ]
)
