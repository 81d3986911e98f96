"""Shared fixtures: a real redis-server for the session, a fixed clock, the stations."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.support.ports import free_port
from ticker.config import Settings
from ticker.embedded import start_redis_server, stop_redis_server
from ticker.models import Station
from ticker.redis_client import connect
from ticker.stations import load_stations
from ticker.store import Store

ROOT = Path(__file__).resolve().parent.parent


class RedisServer:
    """A private redis-server started from the pip-installed binary the embedded default uses."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = start_redis_server(port=self.port, data_dir=None, die_with_parent=True)

    def stop(self) -> None:
        if self.proc is not None:
            stop_redis_server(self.proc)
            self.proc = None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client on a clean database of the session's Redis."""
    client = connect(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
def store(redis: Redis) -> Store:
    return Store(redis)


@pytest.fixture(scope="session")
def stations() -> list[Station]:
    return load_stations(ROOT / "stations.yaml")


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        from datetime import timedelta

        self.now = self.now + timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    # 2025-07-28 15:05 KST, a Monday: the date line reads "2025.07.28 (월)".
    return FixedClock(datetime(2025, 7, 28, 6, 5, tzinfo=UTC))


@pytest.fixture
def settings(redis_server: RedisServer, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        redis_url=redis_server.url,
        source="sim",
        data_dir=tmp_path / "data",
        poll_jitter_s=0,
        # Tests ask for many distinct variants at once; the render budget has its own tests.
        renders_per_s=10_000,
    )
