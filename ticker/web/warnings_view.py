"""Weather warnings as readers see them: badge colours (checked for contrast), summary, JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from ticker.models import KST, SIM_SOURCE, attribution
from ticker.wrn import LEVELS, WarningsDocument, WeatherWarning, entry

# The strip's own backgrounds (see _widget.css), which the unfilled badges sit on.
STRIP_BG = {"light": "#ffffff", "dark": "#17202a"}


class BadgeColours(NamedTuple):
    fg: str
    bg: str
    border: str


# Level -> theme -> colours. Yellow for advisories and red for warnings, as KMA's own maps; purple
# for the severe level. Colour is never the only cue: the badge text says the level, a preliminary
# warning has a dashed outline, an advisory a solid one, warnings are filled and bold.
PALETTE: dict[str, dict[str, BadgeColours]] = {
    "예비": {
        "light": BadgeColours("#6b4e00", "#ffffff", "#6b4e00"),
        "dark": BadgeColours("#ffd27a", "#17202a", "#ffd27a"),
    },
    "주의": {
        "light": BadgeColours("#4d3800", "#ffe9a8", "#8a6300"),
        "dark": BadgeColours("#2b1f00", "#f2c94c", "#f2c94c"),
    },
    "경보": {
        "light": BadgeColours("#ffffff", "#b42318", "#b42318"),
        "dark": BadgeColours("#ffffff", "#c4271b", "#ff8a80"),
    },
    "중대경보": {
        "light": BadgeColours("#ffffff", "#5b1a8c", "#5b1a8c"),
        "dark": BadgeColours("#2a0a40", "#dcbcf7", "#dcbcf7"),
    },
}


def level_class(warning: WeatherWarning) -> str:
    """The CSS class of a badge's level: kt-w0 (preliminary) .. kt-w3 (severe)."""
    return f"kt-w{max(0, warning.rank)}"


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(hex_colour: str) -> float:
    """WCAG 2.x relative luminance of #rrggbb."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2.x contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def badge_css() -> str:
    """The badge rules for the light theme, the dark theme and the auto theme in dark mode."""
    out = []
    for level, themes in PALETTE.items():
        cls = f".kt-w{LEVELS[level][0]}"
        light, dark = themes["light"], themes["dark"]
        out.append(f".kma-ticker {cls}{{color:{light.fg};background:{light.bg};border-color:{light.border}}}")
        out.append(
            f".kma-ticker.kt-dark {cls}{{color:{dark.fg};background:{dark.bg};border-color:{dark.border}}}"
        )
        out.append(
            f"@media (prefers-color-scheme:dark){{.kma-ticker.kt-auto {cls}"
            f"{{color:{dark.fg};background:{dark.bg};border-color:{dark.border}}}}}"
        )
    return "\n".join(out)


def summary(items: Sequence[tuple[str, Sequence[WeatherWarning]]], lang: str) -> tuple[str, str] | None:
    """(visible text, spoken sentence) of the leading item, or None when no warning is in effect.

    ``items`` are (station name, its warnings) in strip order.
    """
    under = [(name, ws) for name, ws in items if ws]
    if not under:
        return None
    count = len(under)
    if lang == "en":
        spoken = "; ".join(f"{name}: {', '.join(w.label('en') for w in ws)}" for name, ws in under)
        noun = "place" if count == 1 else "places"
        return f"Warnings in {count} {noun}", f"Weather warnings in effect for {count} {noun}: {spoken}."
    spoken = "; ".join(f"{name} {', '.join(w.label('ko') for w in ws)}" for name, ws in under)
    return f"기상특보 {count}곳", f"기상특보 발효 중, {count}곳: {spoken}."


def warnings_document(
    now: datetime,
    version: int,
    warnings: Sequence[WeatherWarning],
    chains: Sequence[tuple[int, Sequence[str]]],
    *,
    status: str,
    checked_at: datetime | None,
    simulated: bool = False,
) -> WarningsDocument:
    """GET /v1/warnings: each warning shown once, with the configured stations it covers."""
    listed = []
    for warning in warnings:
        ids = [sid for sid, chain in chains if warning.region_id in chain]
        if ids:
            listed.append(entry(warning, ids))
    return WarningsDocument.model_validate(
        {
            "generated_at": now.astimezone(KST).replace(microsecond=0),
            "warnings_status": status,
            "checked_at": checked_at,
            # The simulated source comes with simulated warnings: never under KMA's name.
            "attribution": attribution([SIM_SOURCE] if simulated else []),
            "simulated": simulated,
            "version": version,
            "warnings": listed,
        }
    )
