"""The in-process snapshot follows Redis: pub/sub, the periodic check, and bad data kept out."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from tests.support.helpers import poll_sim, wait_for, web_app
from ticker.app import create_app
from ticker.web import keys
from ticker.web.snapshot import LiveSnapshot, Renderer
from ticker.web.view import View


async def test_a_new_version_is_served_after_the_pubsub_announcement(
    aiohttp_client, settings, stations, store, clock
):
    await poll_sim(stations, store, clock)
    # The periodic check is an hour away: only the announcement can bring the new version in.
    app = web_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    live = app[keys.LIVE]
    first = await client.get("/widget")
    version = live.version

    async def subscribed() -> bool:
        numsub = await store.redis.pubsub_numsub(store.keys.updates)
        return bool(numsub and numsub[0][1] >= 1)

    await wait_for(subscribed, what="the follower to subscribe")
    clock.advance(hours=1)
    await poll_sim(stations, store, clock)

    async def moved() -> bool:
        return live.version > version

    await wait_for(moved, what="the announced version")
    second = await client.get("/widget")
    assert second.headers["ETag"] != first.headers["ETag"]
    assert f'data-version="{live.version}"' in await second.text()


async def test_the_periodic_check_catches_a_missed_announcement(
    aiohttp_client, settings, stations, store, clock
):
    await poll_sim(stations, store, clock)
    app = create_app(
        settings,
        stations=stations,
        redis=store.redis,
        clock=clock,
        role="web",
        snapshot_check_s=0.05,
    )
    await aiohttp_client(app)
    live = app[keys.LIVE]
    version = live.version
    await store.redis.incr(store.keys.version)  # a change nobody announced

    async def caught() -> bool:
        return live.version == version + 1

    await wait_for(caught, what="the periodic version check")


async def test_bad_stored_data_never_replaces_the_served_snapshot(stations, store, clock):
    await poll_sim(stations, store, clock)
    live = LiveSnapshot(stations, clock=clock, hard_max_age_s=3600)
    await live.refresh(store)
    good = live.snapshot
    await store.redis.hset(store.keys.observations, "108", "{not json")
    await store.redis.incr(store.keys.version)
    with pytest.raises(ValidationError):
        await live.refresh(store)
    assert live.snapshot is good


async def test_a_refresh_returns_only_when_every_kept_variant_shows_the_version(stations, store, clock):
    """Two refreshers of one version (the pub/sub follower and a caller): the one that finds the
    version already adopted waits for the other's re-render pass instead of returning while
    pinned variants still hold the bytes of the snapshot before."""
    live = LiveSnapshot(stations, clock=clock, hard_max_age_s=3600)
    rendered_with_data = asyncio.Event()

    def renderer(sid: int) -> Renderer:
        def render(view: View) -> tuple[bytes, str, dict[str, str]]:
            item = next(i for i in view.items if i.station.id == sid)
            if item.observation is None:
                return b"none", "text/plain", {}
            rendered_with_data.set()
            return str(item.observation.temperature_c).encode(), "text/plain", {}

        return render

    for s in stations:
        live.get(("station", s.id), renderer(s.id), pin=True)
    assert all(_body(live, s.id) == b"none" for s in stations)
    await poll_sim(stations, store, clock)

    first = asyncio.create_task(live.refresh(store))  # its pass yields after each render
    await asyncio.wait_for(rendered_with_data.wait(), 10)
    assert _body(live, stations[-1].id) == b"none"  # the pass has not reached the last one yet
    assert await live.refresh(store) is False  # same version: nothing loaded ...
    assert all(_body(live, s.id) != b"none" for s in stations)  # ... but the pass is done
    assert await first is True


def _body(live: LiveSnapshot, sid: int) -> bytes:
    return live.get(("station", sid), renderer_unused).body


def renderer_unused(view: View) -> tuple[bytes, str, dict[str, str]]:
    raise AssertionError("the variant is kept: never rendered here")
