"""README.md and docs/*.md: tables render whole, links resolve, the test command is CI's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MD = MarkdownIt("commonmark").enable("table")


def cells(line: str) -> int:
    """Cells of a table row as GFM splits it: on every pipe not escaped with a backslash."""
    text = line.strip()
    text = text.removeprefix("|")
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    return len(re.split(r"(?<!\\)\|", text))


def tables(path: Path) -> list[list[str]]:
    """The source lines of every table the parser finds."""
    lines = path.read_text().splitlines()
    found = []
    for token in MD.parse(path.read_text()):
        if token.type == "table_open" and token.map:
            start, end = token.map
            found.append(lines[start:end])
    return found


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_tables_have_one_width_and_nothing_breaks_them(path: Path):
    for rows in tables(path):
        widths = {cells(row) for row in rows}
        assert len(widths) == 1, (
            f"{path.name}: rows of {sorted(widths)} cells in a table starting {rows[0]!r}"
        )
    # A row cut off from its table (a paragraph or a blank line inside it) renders as text.
    for token in MD.parse(path.read_text()):
        rows = [line for line in token.content.splitlines() if line.lstrip().startswith("|")]
        if token.type == "inline" and token.map and rows:
            raise AssertionError(f"{path.name}:{token.map[0] + 1}: a table row outside any table")


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_relative_links_resolve(path: Path):
    for token in MD.parse(path.read_text()):
        for child in token.children or []:
            target = child.attrs.get("href") or child.attrs.get("src")
            if not isinstance(target, str) or re.match(r"^[a-z]+:|^#", target):
                continue
            assert (path.parent / target.split("#")[0]).exists(), f"{path.name}: {target}"


def test_readme_is_short_and_its_test_command_is_the_one_ci_runs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    command = next(line for line in readme.splitlines() if line.endswith(".venv/bin/python -m pytest"))
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command in ci, "README's test command differs from the one .ci/run runs"
    assert "docs/strip.png" in readme and (ROOT / "docs" / "strip.png").exists()


def test_a_broken_table_is_caught(tmp_path: Path):
    broken = tmp_path / "broken.md"
    broken.write_text("| a | b |\n| --- | --- |\n| 1 | 2 | 3 |\n")
    with pytest.raises(AssertionError):
        test_tables_have_one_width_and_nothing_breaks_them(broken)
    cut = tmp_path / "cut.md"
    cut.write_text("| a | b |\n| --- | --- |\n| 1 | 2 |\n\nA paragraph.\n| 3 | 4 |\n")
    with pytest.raises(AssertionError):
        test_tables_have_one_width_and_nothing_breaks_them(cut)
