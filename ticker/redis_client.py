"""How a Redis client is built: a URL or Sentinel, explicit timeouts, bounded retries, a blocking pool.

Building a client talks to nothing; ``ticker.store`` is the only module that uses one.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ticker.errors import ConfigError
from ticker.redaction import redact, url_password
from ticker.redis_url import SentinelUrl, is_sentinel_url, parse_sentinel_url

POLLER_SOCKET_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 1.0
HEALTH_CHECK_INTERVAL_S = 30
MAX_CONNECTIONS = 32
POOL_TIMEOUT_S = 1.0


def connect(url: str, *, socket_timeout: float = POLLER_SOCKET_TIMEOUT_S) -> Redis:
    """Build a Redis client with every failure knob set explicitly.

    Accepts redis://, rediss://, unix:// and redis+sentinel:// (see ``ticker.redis_url``).
    Raises ConfigError, never echoing the URL, when it cannot be used.
    """
    knobs: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        # Bounded retries with jittered backoff; BusyLoadingError covers a Redis still loading.
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=2),
        "retry_on_error": [BusyLoadingError, RedisConnectionError, RedisTimeoutError],
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "client_name": "ticker",
    }
    if is_sentinel_url(url):
        return _connect_sentinel(parse_sentinel_url(url), knobs)
    try:
        # A blocking pool waits briefly for a free connection instead of failing at once.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=MAX_CONNECTIONS, timeout=POOL_TIMEOUT_S, **knobs
        )
    except ValueError as err:
        msg = (
            "TICKER_REDIS_URL: not a usable Redis URL (expected redis://, rediss://, unix:// "
            f"or redis+sentinel://): {redact(str(err), [url_password(url)])}"
        )
        raise ConfigError(msg) from None
    return Redis.from_pool(pool)


class _SentinelRedis(Redis):
    """A master client that also closes the sentinel connections it was discovered through."""

    sentinel_manager: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            if self.sentinel_manager is not None:
                for node in self.sentinel_manager.sentinels:
                    await node.aclose()


def _connect_sentinel(target: SentinelUrl, knobs: dict[str, Any]) -> Redis:
    sentinel_kwargs = {
        "socket_timeout": knobs["socket_timeout"],
        "socket_connect_timeout": knobs["socket_connect_timeout"],
        **target.sentinel_kwargs,
    }
    # One Sentinel and one master pool for the process (a pool per call leaks: redis-py #3433).
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        target.sentinels, sentinel_kwargs=sentinel_kwargs, **knobs
    )
    client = sentinel.master_for(
        target.service_name,
        redis_class=_SentinelRedis,
        max_connections=MAX_CONNECTIONS,
        **target.connection_kwargs,
    )
    assert isinstance(client, _SentinelRedis)
    client.sentinel_manager = sentinel
    return client
