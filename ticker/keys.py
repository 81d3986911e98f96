"""Typed application keys, in one place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web
from redis.asyncio import Redis

from ticker.config import Settings
from ticker.lease import PollLease
from ticker.live import LiveSnapshot
from ticker.metrics import Metrics
from ticker.models import Station
from ticker.poller import Poller
from ticker.store import Store

if TYPE_CHECKING:
    from ticker.ops import HotTally
    from ticker.web import PinnedScript

SETTINGS = web.AppKey("settings", Settings)
STATIONS: web.AppKey[list[Station]] = web.AppKey("stations")
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
REDIS = web.AppKey("redis", Redis)
STORE = web.AppKey("store", Store)
LIVE = web.AppKey("live", LiveSnapshot)
POLLER = web.AppKey("poller", Poller)
LEASE = web.AppKey("lease", PollLease)
METRICS = web.AppKey("metrics", Metrics)
HOT_TALLY: web.AppKey[HotTally] = web.AppKey("hot_tally")
EMBED_SCRIPT: web.AppKey[PinnedScript] = web.AppKey("embed_script")
