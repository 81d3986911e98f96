"""The import contracts in pyproject.toml cover every module: a new module cannot slip past them."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "ticker"
ENTRY_POINTS = {"ticker.cli", "ticker.commands", "ticker.workers", "ticker.app", "ticker.__main__", "ticker"}
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


# The one use of another library's private attributes outside the fast path: prometheus_client
# has no bulk observe, and metrics.observe_many falls back to the public loop without them.
PRIVATE_OUTSIDE_FAST_PATH = {("ticker/metrics.py", "_sum"), ("ticker/metrics.py", "_buckets"),
                             ("ticker/metrics.py", "_upper_bounds")}  # fmt: skip


def _private_uses(path: Path) -> set[str]:
    """Private attributes read or written on anything but ``self``/``cls``, getattr included."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        name = None
        if isinstance(node, ast.Attribute):
            base = node.value
            if not (isinstance(base, ast.Name) and base.id in ("self", "cls")):
                name = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name = node.args[1].value
        if name is not None and name.startswith("_") and not name.startswith("__"):
            out.add(name)
    return out


def test_private_attributes_of_other_objects_are_used_only_in_the_fast_path() -> None:
    fast_path = PACKAGE / "web" / "fastpath.py"
    found = {
        (path.relative_to(ROOT).as_posix(), name)
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != fast_path
        for name in _private_uses(path)
    }
    assert found == PRIVATE_OUTSIDE_FAST_PATH
    assert {"_connections", "_paused", "_make_server"} <= _private_uses(fast_path)  # the check sees them


def _is_package(module: str) -> bool:
    return (PACKAGE.parent / Path(*module.split(".")) / "__init__.py").exists()
