"""The only module that talks to Redis: key names, scripts, the snapshot and poll state."""

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
from ticker.wrn import WeatherWarning


class Keys:
    """Every Redis key and channel name the service uses, under one prefix."""

    def __init__(self, prefix: str = "ticker") -> None:
        self.prefix = prefix
        self.observations = f"{prefix}:obs"  # hash: station id -> observation JSON
        self.observed_ts = f"{prefix}:obs:ts"  # hash: station id -> observed_at epoch seconds
        self.word_ts = f"{prefix}:obs:word_ts"  # hash: station id -> evidence_at epoch seconds
        self.fetched = f"{prefix}:fetched"  # hash: station id -> last fetch epoch seconds
        self.version = f"{prefix}:version"  # counter, bumped on every change of observations
        self.updates = f"{prefix}:updates"  # pub/sub channel: the new version number
        self.heartbeat = f"{prefix}:poller:heartbeat"  # poller's last cycle, with a TTL
        self.cycles = f"{prefix}:poller:cycles"  # list: the latest poll cycles, newest first
        self.epoch = f"{prefix}:poller:epoch"  # fencing counter, bumped per lease acquisition
        self.lease = f"{prefix}:poller:lease"  # the poll lease: holder token, with a PX expiry
        self.warnings = f"{prefix}:warnings"  # JSON list of the weather warnings in effect
        self.warnings_ok = f"{prefix}:warnings:ok"  # when the warnings feed last answered (epoch s)
        self.probe = f"{prefix}:probe"  # a tiny key written to learn whether Redis takes writes

    def source(self, name: str) -> str:
        """Hash of one source's state: last success, last error and error counts."""
        return f"{self.prefix}:source:{name}"


# Write each observation only if it is newer than the stored one, or the same observation with
# newer word evidence (minute data, nowcast, forecast arrive between hourly rows); bump the
# version and announce it when anything changed. A stale fencing epoch (a paused former
# leader) writes nothing. A stored row stamped after ARGV[3] (the writer's clock plus the
# allowed skew) came from the future: any row replaces it, so the correct row of the same or
# an earlier hour is written.
_SAVE_LUA = """
local epoch = tonumber(ARGV[2])
if epoch then
  local current = tonumber(redis.call('GET', KEYS[4]) or '0')
  if epoch < current then return -1 end
end
local latest = tonumber(ARGV[3])
local changed = 0
for i = 4, #ARGV, 4 do
  local id, ts, wts, doc = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), ARGV[i + 3]
  local stored = tonumber(redis.call('HGET', KEYS[2], id) or '-1')
  local stored_w = tonumber(redis.call('HGET', KEYS[5], id) or '-1')
  if latest and stored > latest then
    stored = -1
    stored_w = -1
  end
  if ts > stored or (ts == stored and wts > stored_w) then
    redis.call('HSET', KEYS[1], id, doc)
    redis.call('HSET', KEYS[2], id, ts)
    redis.call('HSET', KEYS[5], id, wts)
    changed = changed + 1
  end
end
if changed > 0 then
  local version = redis.call('INCR', KEYS[3])
  redis.call('PUBLISH', ARGV[1], version)
end
return changed
"""

# Store the warnings in effect and when the feed answered. The version is bumped (and announced)
# when the list changed, or when the stored answer time is older than ARGV[5] seconds: web
# processes judge the feed's age from the time they hold, so they must hear of answers in time.
_SAVE_WARNINGS_LUA = """
local epoch = tonumber(ARGV[2])
if epoch then
  local current = tonumber(redis.call('GET', KEYS[4]) or '0')
  if epoch < current then return -1 end
end
local at = tonumber(ARGV[3])
local stored_at = tonumber(redis.call('GET', KEYS[2]) or '0')
if at < stored_at then return 0 end
local changed = redis.call('GET', KEYS[1]) ~= ARGV[4]
redis.call('SET', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[3])
if changed or at - stored_at > tonumber(ARGV[5]) then
  local version = redis.call('INCR', KEYS[3])
  redis.call('PUBLISH', ARGV[1], version)
  return 1
end
return 0
"""

# Take the lease if it is free (and bump the fencing epoch), or renew it if it is already ours.
# Returns {epoch, 0} when held, else {0, remaining PX of the other holder's lease}. A Redis that
# lost its data seeds the epoch from its clock in microseconds, so epochs handed out after the
# reset are still above any handed out before it and fencing holds across the reset.
_ACQUIRE_LEASE_LUA = """
local function next_epoch()
  if redis.call('EXISTS', KEYS[2]) == 0 then
    local t = redis.call('TIME')
    redis.call('SET', KEYS[2], t[1] .. string.format('%06d', tonumber(t[2])))
  end
  return redis.call('INCR', KEYS[2])
end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local epoch = tonumber(redis.call('GET', KEYS[2]) or '0')
  if epoch == 0 then epoch = next_epoch() end
  return {epoch, 0}
end
if holder then return {0, redis.call('PTTL', KEYS[1])} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {next_epoch(), 0}
"""

# Extend or release only a lease this token holds, never someone else's.
_EXTEND_LEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE_LEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

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
        self._save = redis.register_script(_SAVE_LUA)
        self._acquire = redis.register_script(_ACQUIRE_LEASE_LUA)
        self._extend = redis.register_script(_EXTEND_LEASE_LUA)
        self._release = redis.register_script(_RELEASE_LEASE_LUA)
        self._save_warnings = redis.register_script(_SAVE_WARNINGS_LUA)

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
