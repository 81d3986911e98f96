"""The in-process snapshot follows Redis: pub/sub, the periodic check, and bad data kept out."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.support.helpers import poll_sim, wait_for, web_app
from ticker.app import create_app
from ticker.web import keys
from ticker.web.snapshot import LiveSnapshot


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
