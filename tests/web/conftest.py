"""Fixtures of the web-side tests: one headless Chromium per test that asks for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.cdp import Browser


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    chromium = Browser(tmp_path / "profile")
    await chromium.start()
    try:
        yield chromium
    finally:
        await chromium.close()
