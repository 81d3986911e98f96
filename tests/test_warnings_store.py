"""Warnings in Redis: stored with the time of the answer, announced when web processes must know."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import FixedClock
from tests.support.warnings_support import HEAT
from ticker.poll.sources.kma_warnings import SimWarningsSource, simulated
from ticker.regions import parse_time
from ticker.store import Snapshot, Store
from ticker.web.snapshot import keep_newer
from ticker.web.warnings_view import PALETTE, STRIP_BG, badge_css, contrast


async def test_save_announces_changes_and_answers_web_processes_must_hear_of(store: Store, clock: FixedClock):
    async with store.updates() as feed:
        assert await feed.next(1.0)  # our subscription
        assert await store.save_warnings([HEAT], clock(), announce_after_s=600) == 1
        assert not await feed.next(1.0)  # an announcement, not a resubscription
        version = await store.load_version()
        # The same list a minute later: stored, not announced.
        assert await store.save_warnings([HEAT], clock.advance(minutes=1), announce_after_s=600) == 0
        assert await store.load_version() == version
        # The same list, but the stored answer is older than announce_after_s: announced.
        assert await store.save_warnings([HEAT], clock.advance(minutes=11), announce_after_s=600) == 1
        assert await store.load_version() == version + 1
        # An older answer never replaces a newer one.
        assert await store.save_warnings([], clock() - timedelta(minutes=5)) == 0
    snap = await store.load_snapshot()
    assert snap.warnings == (HEAT,)
    assert snap.warnings_ok_at == clock().timestamp()
    assert await store.load_warnings_ok() == clock().timestamp()


async def test_a_fenced_poller_writes_no_warnings(store: Store, clock: FixedClock):
    epoch, _ = await store.acquire_lease("a", 5000)
    await store.redis.incr(store.keys.epoch)
    assert await store.save_warnings([HEAT], clock(), epoch=epoch) == -1
    assert (await store.load_snapshot()).warnings == ()


def test_keep_newer_keeps_the_newer_warnings_answer():
    mine = Snapshot(version=5, observations={}, warnings=(HEAT,), warnings_ok_at=200.0)
    emptied = Snapshot(version=1, observations={})
    assert keep_newer(mine, emptied).warnings == (HEAT,)
    newer = Snapshot(version=6, observations={}, warnings=(), warnings_ok_at=300.0)
    assert keep_newer(mine, newer) is newer


def test_badge_colours_pass_wcag_aa_in_both_themes():
    """Text on every badge >= 4.5:1; every badge's edge >= 3:1 against the strip (WCAG 1.4.11)."""
    ratios = {}
    for level, themes in PALETTE.items():
        for theme, c in themes.items():
            text = contrast(c.fg, c.bg)
            edge = max(contrast(c.border, STRIP_BG[theme]), contrast(c.bg, STRIP_BG[theme]))
            ratios[(level, theme)] = (round(text, 2), round(edge, 2))
            assert text >= 4.5, (level, theme, text)
            assert edge >= 3.0, (level, theme, edge)
    assert ratios[("경보", "light")] == (6.57, 6.57)
    assert ratios[("주의", "dark")][0] > 10
    # Levels differ in fill as well as in words: no two levels share a theme's background and border.
    for theme in ("light", "dark"):
        assert len({(t[theme].bg, t[theme].border) for t in PALETTE.values()}) == len(PALETTE)
    css = badge_css()
    assert PALETTE["중대경보"]["dark"].bg in css and ".kma-ticker.kt-dark .kt-w3" in css


def test_known_contrast_values():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48


async def test_sim_warnings_are_occasional_and_plausible(stations):
    days = [parse_time(f"202507{d:02d}1500") for d in range(1, 29)]
    per_day = [simulated(stations, day) for day in days]
    assert any(per_day) and not all(len(w) == len(stations) for w in per_day)
    summer = [w for ws in per_day for w in ws]
    assert {w.kind for w in summer} == {"폭염"} and {w.level for w in summer} <= {"주의", "경보"}
    regions = {s.warning_region for s in stations}
    assert all(w.region_id in regions for w in summer)
    assert simulated(stations, parse_time("202507280900")) == []  # issued at 10:00
    spring = [w for d in range(1, 29) for w in simulated(stations, parse_time(f"202604{d:02d}1500"))]
    assert spring and all(w.preliminary and (w.period("ko") or "").endswith("오후") for w in spring)
    assert await SimWarningsSource().fetch(stations, days[0]) == per_day[0]
