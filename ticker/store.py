"""The only module that talks to Redis: the snapshot, the poll state, the lease and pub/sub.

The key names and the Lua scripts it runs are in ``ticker.redis_schema``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import (
    AuthenticationError,
    ExecAbortError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)

from ticker.errors import StoreError, StoreRefusedError
from ticker.models import MAX_CLOCK_SKEW_S, Observation
from ticker.redis_schema import (
    ACQUIRE_LEASE_LUA,
    EXTEND_LEASE_LUA,
    RELEASE_LEASE_LUA,
    SAVE_LUA,
    SAVE_WARNINGS_LUA,
    Keys,
)
from ticker.wrn import WeatherWarning

CYCLES_KEPT = 20


@dataclass(frozen=True)
class Snapshot:
    """Everything a web process shows, read from Redis in one transaction."""

    version: int
    observations: Mapping[int, Observation]
    fetched_at: Mapping[int, float] = field(default_factory=dict)
    warnings: tuple[WeatherWarning, ...] = ()
    warnings_ok_at: float | None = None  # when the warnings feed last answered


EMPTY_SNAPSHOT = Snapshot(version=0, observations={})


class Store:
    """Typed access to the service's Redis data."""

    def __init__(self, redis: Redis, keys: Keys | None = None) -> None:
        self.redis = redis
        self.keys = keys or Keys()
        self._save = redis.register_script(SAVE_LUA)
        self._acquire = redis.register_script(ACQUIRE_LEASE_LUA)
        self._extend = redis.register_script(EXTEND_LEASE_LUA)
        self._release = redis.register_script(RELEASE_LEASE_LUA)
        self._save_warnings = redis.register_script(SAVE_WARNINGS_LUA)

    async def save_observations(
        self, observations: Iterable[Observation], *, epoch: int | None = None, now: datetime | None = None
    ) -> int:
        """Store observations newer than what is stored; return how many were written.

        Returns -1 when ``epoch`` is older than the current fencing epoch (nothing written).
        With ``now``, a stored row stamped more than ``MAX_CLOCK_SKEW_S`` after it is treated as
        absent: it came from the future and any row replaces it.
        """
        latest = "" if now is None else now.timestamp() + MAX_CLOCK_SKEW_S
        args: list[Any] = [self.keys.updates, "" if epoch is None else epoch, latest]
        for obs in observations:
            word_ts = obs.evidence_at.timestamp() if obs.evidence_at is not None else 0
            args += [obs.station_id, obs.observed_at.timestamp(), word_ts, obs.model_dump_json()]
        if len(args) == 3:
            return 0
        keys = [self.keys.observations, self.keys.observed_ts, self.keys.version, self.keys.epoch]
        keys.append(self.keys.word_ts)
        try:
            return int(await self._save(keys=keys, args=args))
        except RedisError as err:
            raise _store_error(err) from err

    async def save_warnings(
        self,
        warnings: Iterable[WeatherWarning],
        at: datetime,
        *,
        epoch: int | None = None,
        announce_after_s: float = 600.0,
    ) -> int:
        """Store the warnings in effect as of a successful answer at ``at``.

        Returns 1 when web processes were told (new list, or an answer they must hear of), 0 when
        not, -1 when ``epoch`` is older than the current fencing epoch (nothing written).
        """
        doc = json.dumps([json.loads(w.model_dump_json()) for w in warnings], ensure_ascii=False)
        keys = [self.keys.warnings, self.keys.warnings_ok, self.keys.version, self.keys.epoch]
        args = [self.keys.updates, "" if epoch is None else epoch, at.timestamp(), doc, announce_after_s]
        try:
            return int(await self._save_warnings(keys=keys, args=args))
        except RedisError as err:
            raise _store_error(err) from err

    async def load_warnings_ok(self) -> float | None:
        """When the warnings feed last answered (Unix time), or None."""
        try:
            raw = await self.redis.get(self.keys.warnings_ok)
        except RedisError as err:
            raise _store_error(err) from err
        return None if raw is None else float(raw)

    async def record_fetch(self, station_ids: Iterable[int], at: datetime) -> None:
        """Remember when each station last came back from an upstream."""
        mapping = {str(sid): at.timestamp() for sid in station_ids}
        if not mapping:
            return
        try:
            await self.redis.hset(self.keys.fetched, mapping=mapping)  # type: ignore[arg-type]
        except RedisError as err:
            raise _store_error(err) from err

    async def load_version(self) -> int:
        """The current snapshot version (0 when nothing was ever stored)."""
        try:
            raw = await self.redis.get(self.keys.version)
        except RedisError as err:
            raise _store_error(err) from err
        return int(raw or 0)

    async def load_snapshot(self) -> Snapshot:
        """Read version, observations and fetch times atomically."""
        try:
            try:
                version, docs, fetched, warnings, warnings_ok = await self._read_snapshot(transaction=True)
            except (OutOfMemoryError, ExecAbortError, ResponseError) as err:
                if refusal(err) is None:
                    raise
                # Out of memory, Redis refuses to queue even reads in MULTI; plain reads still work.
                version, docs, fetched, warnings, warnings_ok = await self._read_snapshot(transaction=False)
        except RedisError as err:
            raise _store_error(err) from err
        observations: dict[int, Observation] = {}
        for sid, doc in docs.items():
            obs = Observation.model_validate_json(doc)
            observations[int(sid)] = obs
        return Snapshot(
            version=int(version or 0),
            observations=observations,
            fetched_at={int(k): float(v) for k, v in fetched.items()},
            warnings=tuple(WeatherWarning.model_validate(w) for w in json.loads(warnings or "[]")),
            warnings_ok_at=None if warnings_ok is None else float(warnings_ok),
        )

    async def _read_snapshot(self, *, transaction: bool) -> list[Any]:
        async with self.redis.pipeline(transaction=transaction) as pipe:
            pipe.get(self.keys.version)
            pipe.hgetall(self.keys.observations)
            pipe.hgetall(self.keys.fetched)
            pipe.get(self.keys.warnings)
            pipe.get(self.keys.warnings_ok)
            return list(await pipe.execute())

    async def record_cycle(self, cycle: Mapping[str, Any], *, heartbeat_ttl_s: float) -> None:
        """Store the outcome of one poll cycle and refresh the poller's heartbeat."""
        doc = json.dumps(cycle, ensure_ascii=False)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(self.keys.heartbeat, doc, px=int(heartbeat_ttl_s * 1000))
                pipe.lpush(self.keys.cycles, doc)
                pipe.ltrim(self.keys.cycles, 0, CYCLES_KEPT - 1)
                await pipe.execute()
        except RedisError as err:
            raise _store_error(err) from err

    async def record_source(
        self, name: str, *, at: datetime, error_kind: str | None, message: str | None = None
    ) -> None:
        """Record a source's success or its classified failure."""
        key = self.keys.source(name)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                if error_kind is None:
                    pipe.hset(key, mapping={"last_success": at.timestamp()})
                else:
                    pipe.hset(
                        key,
                        mapping={
                            "last_error_at": at.timestamp(),
                            "last_error_kind": error_kind,
                            "last_error": (message or error_kind)[:300],
                        },
                    )
                    pipe.hincrby(key, f"errors:{error_kind}", 1)
                await pipe.execute()
        except RedisError as err:
            raise _store_error(err) from err

    async def load_source(self, name: str) -> dict[str, str]:
        try:
            return dict(await self.redis.hgetall(self.keys.source(name)))  # type: ignore[arg-type]
        except RedisError as err:
            raise _store_error(err) from err

    async def load_heartbeat(self) -> dict[str, Any] | None:
        try:
            raw = await self.redis.get(self.keys.heartbeat)
        except RedisError as err:
            raise _store_error(err) from err
        return None if raw is None else dict(json.loads(raw))

    async def load_cycles(self) -> list[dict[str, Any]]:
        try:
            raws = await self.redis.lrange(self.keys.cycles, 0, -1)
        except RedisError as err:
            raise _store_error(err) from err
        return [json.loads(r) for r in raws]

    async def acquire_lease(self, token: str, ttl_ms: int) -> tuple[int, int]:
        """Take or renew the poll lease: (fencing epoch, 0) if held, else (0, holder's PTTL ms)."""
        try:
            epoch, pttl = await self._acquire(keys=[self.keys.lease, self.keys.epoch], args=[token, ttl_ms])
        except RedisError as err:
            raise _store_error(err) from err
        return int(epoch), int(pttl)

    async def extend_lease(self, token: str, ttl_ms: int) -> bool:
        """Renew the poll lease if ``token`` still holds it; False if gone or someone else's."""
        try:
            return bool(await self._extend(keys=[self.keys.lease], args=[token, ttl_ms]))
        except RedisError as err:
            raise _store_error(err) from err

    async def release_lease(self, token: str) -> bool:
        """Give the poll lease up if ``token`` holds it."""
        try:
            return bool(await self._release(keys=[self.keys.lease], args=[token]))
        except RedisError as err:
            raise _store_error(err) from err

    async def lease_holder(self) -> tuple[str | None, int]:
        """Who holds the poll lease (its token: host:pid:random) and for how many more ms."""
        try:
            # Not in MULTI: a Redis out of memory refuses to queue even reads there.
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(self.keys.lease)
                pipe.pttl(self.keys.lease)
                holder, pttl = await pipe.execute()
        except RedisError as err:
            raise _store_error(err) from err
        return holder, max(0, int(pttl))

    @contextlib.asynccontextmanager
    async def updates(self) -> AsyncIterator[UpdateFeed]:
        """Subscribe to the "new version" announcements; the subscription ends with the block."""
        pubsub = self.redis.pubsub()
        try:
            try:
                await pubsub.subscribe(self.keys.updates)
            except RedisError as err:
                raise _store_error(err) from err
            yield UpdateFeed(pubsub)
        finally:
            with contextlib.suppress(RedisError, OSError):
                # redis-py leaves PubSub.aclose unannotated.
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def ping(self) -> None:
        try:
            await self.redis.ping()
        except RedisError as err:
            raise _store_error(err) from err

    async def probe_write(self) -> None:
        """Write one tiny key: StoreRefusedError when Redis is reachable but takes no writes."""
        try:
            await self.redis.set(self.keys.probe, "1", px=PROBE_TTL_MS)
        except RedisError as err:
            raise _store_error(err) from err


class UpdateFeed:
    """The announcements of new snapshot versions, one subscription."""

    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub

    async def next(self, wait_s: float) -> bool:
        """Wait up to ``wait_s`` for an announcement; True when it is a (re)subscription.

        redis-py reconnects and resubscribes by itself, and the confirmation is how a listener
        learns that it may have missed announcements. ``PubSub.get_message(timeout=...)``
        swallows a CancelledError and returns None, so a task waiting in it would never stop:
        the wait runs in its own task behind a shield, so cancelling the caller always raises
        here, and the reader is stopped before the subscription closes.
        """
        reader = asyncio.create_task(self._pubsub.get_message(timeout=wait_s))
        try:
            message = await asyncio.shield(reader)
        except asyncio.CancelledError:
            reader.cancel()
            await asyncio.wait([reader])
            raise
        except RedisError as err:
            raise _store_error(err) from err
        return isinstance(message, dict) and message.get("type") == "subscribe"


PROBE_TTL_MS = 60_000


def _describe(err: RedisError) -> str:
    """A message about a Redis failure that carries no URL or password."""
    reason = refusal(err)
    if reason is not None:
        return f"redis: refusing writes: {reason}"
    return f"redis: {type(err).__name__}"


def refusal(err: BaseException) -> str | None:
    """Why a reachable Redis refuses us, or None when the failure is not a refusal.

    Only the error class and Redis's fixed error codes are read: never the message's free text.
    """
    if isinstance(err, OutOfMemoryError):
        return "out of memory (maxmemory reached)"
    if isinstance(err, ReadOnlyError):
        return "read-only replica"
    if isinstance(err, AuthenticationError | NoPermissionError):
        return "authentication or permission refused"
    if isinstance(err, ResponseError):
        code = str(err).split(" ", 1)[0]
        if code in ("OOM", "EXECABORT") and "OOM" in str(err)[:200]:
            return "out of memory (maxmemory reached)"
        if code == "MISCONF":
            return "cannot persist (MISCONF)"
        if code in ("WRONGPASS", "NOAUTH", "NOPERM"):
            return "authentication or permission refused"
    return None


def _store_error(err: RedisError) -> StoreError:
    reason = refusal(err)
    if reason is not None:
        return StoreRefusedError(_describe(err), reason=reason)
    return StoreError(_describe(err))
