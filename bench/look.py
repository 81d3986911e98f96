"""Does a change alter how the strip looks? Its pixels in headless Chromium, before and after.

    python bench/look.py [--base REV] [--base-variant icons=on] [--head-variant icons=on]

Renders 15 variants of the strip (themes, layouts, languages, warnings, stale and missing
stations, few stations, the frame page) from simulated data at a fixed time, once with the code
at REV (default HEAD, checked out in a temporary worktree) and once with this checkout, then
takes each at 7 widths (320 to 1,280 px) in 8 states (the animations frozen at four moments,
the pause toggle checked, the toggle focused, reduced motion, reduced motion in dark mode), and
prints every picture whose pixels differ, with how many and where. ``--*-variant`` adds variant
fields on one side (e.g. the default before against ``icons=on`` after). Needs ``chromium``.

A rolling narrow strip can differ by a pixel or two on its bottom row between two runs of the
same page: run it twice before trusting a lone small difference there.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.cdp import Browser, Page  # noqa: E402

WIDTHS = (320, 360, 390, 599, 600, 768, 1280)
STATES = ("t0", "t1500", "t20000", "t70000", "checked", "focus", "reduce", "reduce-dark")

# Run with the side's own code first on sys.path: writes one HTML page per variant into argv[1].
RENDER = """
import json, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from ticker.poll.sources.sim import simulate
from ticker.stations import load_stations
from ticker.web import render
from ticker.web.render import Variant
from ticker.web.view import build_view
from tests.support.warnings_support import HEAT, WIND_AHEAD

out, extra = Path(sys.argv[1]), json.loads(sys.argv[2])
now = datetime(2025, 7, 28, 6, 5, tzinfo=UTC)
stations = load_stations(Path("stations.yaml"))
obs = {s.id: simulate(s, now, now).model_copy(update={"source": "kma_apihub"}) for s in stations}
odd = dict(obs)
odd[108] = odd[108].model_copy(update={"source": "ultra_ncst"})
odd[159] = odd[159].model_copy(update={"observed_at": now - timedelta(hours=3)})
del odd[184]
def view(o, **kw):
    return build_view(stations, o, now, version=1, hard_max_age_s=6 * 3600, **kw)
plain, late = view(obs), view(odd)
warned = view(obs, warnings=[HEAT, WIND_AHEAD], warnings_ok_at=now.timestamp())
cases = {
    "default": (plain, {}), "en": (plain, {"lang": "en"}), "dark": (plain, {"theme": "dark"}),
    "auto": (plain, {"theme": "auto"}), "list": (plain, {"layout": "list"}),
    "list-en-dark": (plain, {"layout": "list", "lang": "en", "theme": "dark"}),
    "two": (plain, {"stations": (108, 159)}), "one": (plain, {"stations": (108,)}),
    "four-list": (plain, {"stations": (108, 159, 105, 184), "layout": "list"}),
    "late": (late, {}), "late-en-list": (late, {"lang": "en", "layout": "list"}),
    "warn": (warned, {}), "warn-en": (warned, {"lang": "en"}), "warn-list": (warned, {"layout": "list"}),
    "warn-two-en": (warned, {"lang": "en", "stations": (108, 105)}),
}
page = '<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">{}</body></html>'
for name, (v, fields) in cases.items():
    html = render.render_widget(v, variant=Variant(**fields, **extra))
    (out / f"{name}.html").write_text(page.format(html))
(out / "frame.html").write_text(render.render_frame(plain, Variant(**extra)))
"""


def render_side(code: Path, out: Path, extra: dict[str, str]) -> None:
    out.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{ROOT}"}
    subprocess.run([sys.executable, "-c", RENDER, str(out), json.dumps(extra)], cwd=code, env=env, check=True)


async def shoot(pages: Path, out: Path, profile: Path) -> None:
    out.mkdir()
    browser = Browser(profile)
    await browser.start()
    try:
        page = await browser.new_page(width=WIDTHS[0], height=520)
        for html in sorted(pages.glob("*.html")):
            for width in WIDTHS:
                metrics = {"width": width, "height": 520, "deviceScaleFactor": 1, "mobile": False}
                await page.send("Emulation.setDeviceMetricsOverride", metrics)
                for state in STATES:
                    await _one(page, html, state, out / f"{html.stem}__{width}__{state}.png")
    finally:
        await browser.close()


async def _one(page: Page, html: Path, state: str, path: Path) -> None:
    send = page.send
    features = []
    if state.startswith("reduce"):
        features.append({"name": "prefers-reduced-motion", "value": "reduce"})
    if state.endswith("dark"):
        features.append({"name": "prefers-color-scheme", "value": "dark"})
    await send("Emulation.setEmulatedMedia", {"features": features})
    await page.goto(html.as_uri())
    at = int(state[1:]) if state.startswith("t") else 0
    # Two frames first, so that the container query has laid the strip out and started every
    # animation it brings, then all of them paused at the same moment, then two frames more.
    frames = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
    script = f"(async () => {{ await {frames};"
    if state == "checked":
        script += "const t = document.querySelector('.kt-toggle'); if (t) t.checked = true;"
    if state == "focus":
        script += "document.querySelector('.kt-toggle')?.focus({ focusVisible: true });"
    script += (
        f"await {frames}; document.getAnimations().forEach(a => {{ a.pause(); a.currentTime = {at}; }});"
    )
    script += f"await {frames}; }})()"
    await send("Runtime.evaluate", {"expression": script, "awaitPromise": True})
    # A picture counts once two captures in a row agree (a few tries at most).
    last = None
    for _ in range(5):
        shot = (await send("Page.captureScreenshot", {"format": "png"}))["data"]
        if shot == last:
            break
        last = shot
    path.write_bytes(base64.b64decode(shot))


# Both pictures decoded and compared by the browser: the pixels that differ, and where.
COMPARE = """(async (a, b) => {
  const load = async (data) => {
    const img = new Image();
    img.src = "data:image/png;base64," + data;
    await img.decode();
    const ctx = new OffscreenCanvas(img.width, img.height).getContext("2d");
    ctx.drawImage(img, 0, 0);
    return ctx.getImageData(0, 0, img.width, img.height);
  };
  const [p, q] = await Promise.all([load(a), load(b)]);
  if (p.width !== q.width || p.height !== q.height) return "sizes differ";
  let n = 0, x0 = p.width, x1 = -1, y0 = p.height, y1 = -1;
  for (let i = 0; i < p.data.length; i += 4) {
    if (p.data[i] === q.data[i] && p.data[i + 1] === q.data[i + 1] && p.data[i + 2] === q.data[i + 2]) continue;
    const x = (i / 4) % p.width, y = Math.floor(i / 4 / p.width);
    n++; x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  return n ? `${n} px differ, x ${x0}-${x1}, y ${y0}-${y1}` : null;
})"""


async def compare(before: Path, after: Path, names: list[str], profile: Path) -> dict[str, str]:
    """For each picture whose pixels differ: how many, and where."""
    found: dict[str, str] = {}
    browser = Browser(profile)
    await browser.start()
    try:
        page = await browser.new_page(width=200, height=200)
        for name in names:
            a, b = (before / name).read_bytes(), (after / name).read_bytes()
            if a == b:
                continue
            pair = json.dumps([base64.b64encode(a).decode(), base64.b64encode(b).decode()])
            said = await page.evaluate(f"{COMPARE}(...{pair})")
            if said:
                found[name] = said
    finally:
        await browser.close()
    return found


def _fields(pairs: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in pairs)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="the revision to compare with (default HEAD)")
    parser.add_argument("--base-variant", nargs="*", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--head-variant", nargs="*", default=[], metavar="FIELD=VALUE")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ticker-look-") as tmp:
        work = Path(tmp)
        tree = work / "base-tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(tree), args.base], cwd=ROOT, check=True
        )
        try:
            render_side(tree, work / "base", _fields(args.base_variant))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)
        render_side(ROOT, work / "head", _fields(args.head_variant))
        for side in ("base", "head"):
            asyncio.run(shoot(work / side, work / f"{side}-shots", work / f"{side}-profile"))
        names = sorted(p.name for p in (work / "base-shots").glob("*.png"))
        found = asyncio.run(compare(work / "base-shots", work / "head-shots", names, work / "profile"))
        for name, said in found.items():
            print(f"{name[:-4]:<34} {said}")
        before = f"{args.base} {' '.join(args.base_variant)}".strip()
        after = f"this checkout {' '.join(args.head_variant)}".strip()
        print(f"{len(found)} of {len(names)} pictures differ ({before} against {after})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
