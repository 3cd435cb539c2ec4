"""pyproject.toml ships what exists: package data names real packages and real files."""

from __future__ import annotations

import tomllib

from tests.support.paths import REPO


def test_package_data_names_existing_packages_and_files():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    problems = []
    for package, patterns in setuptools.get("package-data", {}).items():
        folder = REPO.joinpath(*package.split("."))
        if not (folder / "__init__.py").is_file():
            problems.append(f"{package}: no such package")
            continue
        problems += [f"{package}: {p} matches nothing" for p in patterns if not any(folder.glob(p))]
    assert not problems
