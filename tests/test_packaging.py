"""The distribution: a name of its own, one version, and a lock that covers the service's dependencies."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from packaging.requirements import Requirement
from packaging.version import Version

import ticker
from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)")


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def locked() -> dict[str, tuple[Version, int]]:
    """Each pinned package of requirements.lock: its version and how many hashes it carries."""
    pins: dict[str, tuple[Version, int]] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            current = _name(match[1])
            pins[current] = (Version(match[2]), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def test_distribution_name_and_one_version():
    project = PYPROJECT["project"]
    assert project["name"] == "kma-ticker"  # "ticker" on the index is someone else's
    assert "version" not in project and project["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ticker.__version__"}
    assert project["scripts"] == {"ticker": "ticker.cli:main"}
    done = subprocess.run(
        [sys.executable, "-m", "ticker", "--version"], capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.strip() == f"ticker {ticker.__version__}"


def test_the_lock_pins_every_service_dependency_with_hashes():
    pins = locked()
    wanted = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    wanted += [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["fast"]]
    for req in wanted:
        name = _name(req.name)
        assert name in pins, f"{name} is not in requirements.lock: refresh it (docs/packaging.md)"
        version, _ = pins[name]
        assert req.specifier.contains(version, prereleases=True), f"{name}=={version} outside {req.specifier}"
    assert all(hashes >= 1 for _, hashes in pins.values())
    # redis needs it below Python 3.11.3 (Debian 12 has 3.11.2): a lock made on a newer 3.11
    # leaves it out, and a hash-checked install there then fails.
    assert "async-timeout" in pins


def test_the_image_installs_the_lock_then_the_package_alone():
    steps = [
        line for line in (ROOT / "deploy" / "Dockerfile").read_text().splitlines() if "pip install" in line
    ]
    assert "--require-hashes -r requirements.lock" in steps[0]
    assert "--no-deps ." in steps[1]
