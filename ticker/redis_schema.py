"""What the service keeps in Redis: every key and channel name, and the Lua scripts that change
them atomically. Only ``ticker.store`` runs them; this module talks to nobody.
"""

from __future__ import annotations


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


# The fence both writers start with: a writer whose epoch (ARGV[2]) is older than the stored one
# (KEYS[4]) is a paused former leader, and writes nothing (-1).
_FENCED = """
local epoch = tonumber(ARGV[2])
if epoch then
  local current = tonumber(redis.call('GET', KEYS[4]) or '0')
  if epoch < current then return -1 end
end
"""

# Write each observation only if it is newer than the stored one, or the same observation with
# newer word evidence (minute data, nowcast, forecast arrive between hourly rows); bump the
# version and announce it when anything changed. A stale fencing epoch (a paused former
# leader) writes nothing. A stored row stamped after ARGV[3] (the writer's clock plus the
# allowed skew) came from the future: any row replaces it, so the correct row of the same or
# an earlier hour is written.
SAVE_LUA = (
    _FENCED
    + """
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
)

# Store the warnings in effect and when the feed answered. The version is bumped (and announced)
# when the list changed, or when the stored answer time is older than ARGV[5] seconds: web
# processes judge the feed's age from the time they hold, so they must hear of answers in time.
SAVE_WARNINGS_LUA = (
    _FENCED
    + """
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
)

# Take the lease if it is free (and bump the fencing epoch), or renew it if it is already ours.
# Returns {epoch, 0} when held, else {0, remaining PX of the other holder's lease}. A Redis that
# lost its data seeds the epoch from its clock in microseconds, so epochs handed out after the
# reset are still above any handed out before it and fencing holds across the reset.
ACQUIRE_LEASE_LUA = """
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
EXTEND_LEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

RELEASE_LEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
