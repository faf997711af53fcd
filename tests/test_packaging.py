"""The install is the CPU build, reproducible, and exposes the `tastemaker` command."""

from __future__ import annotations

import importlib.metadata
import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_no_cuda_packages_were_installed() -> None:
    names = {dist.metadata["Name"].lower() for dist in importlib.metadata.distributions()}
    assert not {n for n in names if n.startswith("nvidia-")}
    assert "+cpu" in importlib.metadata.version("torch")


def test_torch_is_pinned_and_constraints_cover_the_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "torch==2.13.0" in project["dependencies"]
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    for requirement in project["dependencies"]:
        name = requirement.split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip()
        assert name.lower().replace("_", "-") in pinned, f"{name} has no pin in constraints.txt"


def test_console_script_is_installed() -> None:
    assert shutil.which("tastemaker") or (ROOT / ".venv/bin/tastemaker").exists()


def test_the_migrations_ship_with_the_package() -> None:
    """`tastemaker db upgrade` needs env.py, the revision template and every revision installed."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = package_data["package-data"]["*"]
    migrations = ROOT / "api" / "migrations"
    assert "*.mako" in patterns and (migrations / "script.py.mako").is_file()
    assert (migrations / "__init__.py").is_file() and (
        migrations / "versions/__init__.py"
    ).is_file()
