"""/status in a real browser: headless Chromium loads it and we read the DOM it rendered."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from tests.support.ops_support import ops_app, parse_status, poll

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
)  # fmt: skip


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("no headless browser: apt-get install chromium fonts-nanum (.ci/run does)")


async def run_browser(url: str, profile: Path, *extra: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with asyncio.timeout(45):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    return out.decode()


async def test_status_renders_in_chromium(store, aiohttp_client, settings, stations, clock, tmp_path):
    app = ops_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    await poll(app)
    clock.advance(minutes=125)  # the 15:00 rows are now stale (max_age 2 h)
    await store.record_source("sim", at=clock(), error_kind="timeout", message="no answer in 10 s")
    url = str(client.make_url("/status"))

    dom = await run_browser(url, tmp_path / "profile", "--dump-dom")
    page = parse_status(dom)
    assert page.overall == "critical"
    assert page.states == {s.id: "stale" for s in stations}
    assert page.rows[108][:4] == ["stale", "서울 Seoul #108", "15:00", "2 h 10 min"]
    assert "sim failing (timeout)" in page.summary
    assert any("16 of 16 stations stale or missing" in p for p in page.problems)

    shot = tmp_path / "status.png"
    await run_browser(url, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1400,1100")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
