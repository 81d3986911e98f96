"""The import contracts in pyproject.toml cover every module: a new module cannot slip past them."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "ticker"
ENTRY_POINTS = {"ticker.cli", "ticker.workers", "ticker.app", "ticker.__main__", "ticker"}
FAST_PATH = "ticker.web.fastpath"


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["name"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _modules() -> set[str]:
    out = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def _covered(module: str, listed: object) -> bool:
    assert isinstance(listed, list)
    return any(module == m or module.startswith(m + ".") for m in listed)


def test_every_top_level_module_is_core_or_an_entry_point_and_the_core_is_listed() -> None:
    core = _contracts()["the core imports neither side nor the entry points"]["source_modules"]
    top = {m for m in _modules() if m.count(".") == 1 and not _is_package(m)}
    missing = sorted(m for m in top - ENTRY_POINTS if not _covered(m, core))
    assert missing == [], f"add these core modules to the contract: {missing}"


def test_every_module_but_the_fast_path_is_fenced_off_aiohttp_internals() -> None:
    fenced = _contracts()["only the fast path imports aiohttp's private modules"]["source_modules"]
    missing = sorted(m for m in _modules() - {"ticker", FAST_PATH, "ticker.web"} if not _covered(m, fenced))
    assert missing == [], f"add these modules to the aiohttp fence: {missing}"


def _is_package(module: str) -> bool:
    return (PACKAGE.parent / Path(*module.split(".")) / "__init__.py").exists()
