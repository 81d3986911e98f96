"""Weight of every embed on a host page: raw bytes, gzip bytes and element count.

    python bench/weight.py [stations.yaml]

Renders each embed from simulated observations of the configured stations (16 by default) at a
fixed time, labelled as the API Hub's so the credit is the real one, the way the service
answers them, and prints one row per embed. The budget of the
default ``/widget``: at most 10 KB raw, 2 KB gzip and 150 elements.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from ticker.poll.sources.sim import simulate
from ticker.stations import load_stations
from ticker.web import render
from ticker.web.render import Variant
from ticker.web.view import View, build_view

BUDGET = {"raw": 10_000, "gzip": 2_000, "elements": 150}
NOW = datetime(2025, 7, 28, 6, 5, tzinfo=UTC)  # a Monday afternoon in KST


class _Count(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.elements += 1

    def handle_startendtag(self, tag: str, attrs: object) -> None:
        self.elements += 1


def elements(body: bytes, content_type: str) -> int | None:
    """Elements in an HTML or SVG body; None for other kinds."""
    if content_type not in ("html", "svg"):
        return None
    counter = _Count()
    counter.feed(body.decode())
    counter.close()
    return counter.elements


def embeds(view: View, stations: int) -> list[tuple[str, str, bytes]]:
    """(path, kind, body) of each embed."""
    from ticker.web.scripts import load_embed_js

    out: list[tuple[str, str, bytes]] = [
        ("/widget", "html", render.render_widget(view).encode()),
        ("/widget?layout=list", "html", render.render_widget(view, variant=Variant(layout="list")).encode()),
        ("/widget?icons=on", "html", render.render_widget(view, variant=Variant(icons="on")).encode()),
        ("/widget/frame", "html", render.render_frame(view, Variant()).encode()),
        ("/embed.js", "js", load_embed_js(stations)),
    ]
    for path, kind, fn in _extra():
        out.append((path, kind, fn(view)))
    return out


def _extra() -> list[tuple[str, str, Callable[[View], bytes]]]:
    """Embeds added later than the first three, when the installed version has them."""
    extra: list[tuple[str, str, Callable[[View], bytes]]] = []
    if hasattr(render, "render_text"):
        extra.append(("/widget.txt", "text", lambda v: render.render_text(v, Variant()).encode()))
    if hasattr(render, "render_svg"):
        extra.append(("/widget.svg", "svg", lambda v: render.render_svg(v, Variant()).encode()))
    if hasattr(render, "amp_document"):
        extra.append(
            ("/v1/amp", "json", lambda v: render.amp_document(v, Variant()).model_dump_json().encode())
        )
    element = Path(render.__file__).with_name("static") / "kma-ticker.js"
    if element.is_file():
        extra.append(("/kma-ticker.v1.js", "js", lambda v: element.read_bytes()))
    return extra


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "stations.yaml"
    stations = load_stations(path)
    # Simulated values under the API Hub's source name: the strip then carries the credit a real
    # deployment shows ("기상청 제공"), not the simulated-data notice.
    observations = {s.id: simulate(s, NOW, NOW).model_copy(update={"source": "kma_apihub"}) for s in stations}
    view = build_view(stations, observations, NOW, version=1, hard_max_age_s=6 * 3600)
    print(f"{len(stations)} stations")
    print(f"{'embed':<22} {'raw B':>7} {'gzip B':>7} {'elements':>9}")
    over = False
    for name, kind, body in embeds(view, len(stations)):
        packed = len(gzip.compress(body, compresslevel=9, mtime=0))
        count = elements(body, kind)
        print(f"{name:<22} {len(body):>7} {packed:>7} {'-' if count is None else count:>9}")
        if name == "/widget":
            over = len(body) > BUDGET["raw"] or packed > BUDGET["gzip"] or (count or 0) > BUDGET["elements"]
    print("budget of /widget: <= 10000 B raw, <= 2000 B gzip, <= 150 elements:", "OVER" if over else "within")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
