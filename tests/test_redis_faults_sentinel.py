"""redis+sentinel:// URLs: parsing, and a real Sentinel moving the client to a new master."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis as redis_sync

from tests.support.helpers import wait_for, wait_until
from tests.support.ports import free_port
from ticker.embedded import redis_server_binary, start_redis_server, stop_redis_server
from ticker.errors import ConfigError, StoreError
from ticker.models import Observation
from ticker.redis_client import connect
from ticker.redis_url import is_sentinel_url, parse_sentinel_url
from ticker.store import Store

SECRET = "s3cr3t-p4ss"


def test_sentinel_url_parts():
    url = (
        f"rediss+sentinel://app:{SECRET}@s1.example:26380,s2.example,[::1]:5000/ticker-main/3"
        "?sentinel_password=sp&socket_timeout=0.5&ssl_ca_certs=/etc/ca.pem"
    )
    assert is_sentinel_url(url) and not is_sentinel_url("redis://localhost/0")
    target = parse_sentinel_url(url)
    assert target.sentinels == [("s1.example", 26380), ("s2.example", 26379), ("::1", 5000)]
    assert target.service_name == "ticker-main"
    assert target.connection_kwargs == {
        "db": 3,
        "username": "app",
        "password": SECRET,
        "socket_timeout": 0.5,
        "ssl_ca_certs": "/etc/ca.pem",
        "ssl": True,
    }
    assert target.sentinel_kwargs == {"password": "sp", "ssl": True}
    plain = parse_sentinel_url("redis+sentinel://127.0.0.1/mymaster")
    assert plain.sentinels == [("127.0.0.1", 26379)] and plain.connection_kwargs == {}


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"redis+sentinel://:{SECRET}@/mymaster", "no sentinel host"),
        (f"redis+sentinel://:{SECRET}@h:26379", "no service name"),
        (f"redis+sentinel://:{SECRET}@h:26379/m/x", "must be a number"),
        (f"redis+sentinel://:{SECRET}@h:99999/m", "port"),
        (f"redis+sentinel://:{SECRET}@h/m?bogus=1", "unknown option 'bogus'"),
        (f"redis+sentinel://:{SECRET}@h/m?socket_timeout=x", "Invalid value for 'socket_timeout'"),
        (f"redis+sentinel://:{SECRET}@h/m/0/1", "too many path segments"),
    ],
)
def test_bad_sentinel_urls_say_why_and_never_show_the_password(url: str, problem: str):
    with pytest.raises(ConfigError) as caught:
        parse_sentinel_url(url)
    assert problem in str(caught.value)
    assert SECRET not in str(caught.value)
    assert str(caught.value).startswith("TICKER_REDIS_URL: ")


def test_bad_plain_url_is_a_config_error_without_the_password():
    with pytest.raises(ConfigError) as caught:
        connect(f"http://user:{SECRET}@localhost/0")
    assert SECRET not in str(caught.value)
    assert "redis+sentinel://" in str(caught.value)


class Sentinel:
    """A master, a replica and one sentinel watching them, all real redis-server processes."""

    def __init__(self, tmp: Path) -> None:
        self.master_port, self.replica_port, self.port = free_port(), free_port(), free_port()
        # In memory, but a failover's full resync still writes a dump: keep it under tmp.
        workdir = ["--dir", str(tmp)]
        self.master = start_redis_server(port=self.master_port, data_dir=None, extra=workdir)
        self.replica = start_redis_server(
            port=self.replica_port,
            data_dir=None,
            extra=[*workdir, "--replicaof", "127.0.0.1", str(self.master_port)],
        )
        conf = tmp / "sentinel.conf"
        conf.write_text(
            f'port {self.port}\nbind 127.0.0.1\ndaemonize no\nlogfile ""\n'
            f"sentinel monitor mymaster 127.0.0.1 {self.master_port} 1\n"
            "sentinel down-after-milliseconds mymaster 1000\n"
            "sentinel failover-timeout mymaster 5000\n"
        )
        self.proc = subprocess.Popen(
            [redis_server_binary(), str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp,
        )
        self.client = redis_sync.Redis(port=self.port, decode_responses=True, socket_timeout=2)

    def master_addr(self) -> tuple[str, int] | None:
        try:
            addr = self.client.execute_command("SENTINEL", "get-master-addr-by-name", "mymaster")
        except redis_sync.RedisError:
            return None
        return (addr[0], int(addr[1])) if addr else None

    def knows_replica(self) -> bool:
        try:
            return len(self.client.execute_command("SENTINEL", "replicas", "mymaster")) == 1
        except redis_sync.RedisError:
            return False

    def failover(self) -> bool:
        """Ask for a failover; False while the sentinel has no replica it considers in sync."""
        try:
            return bool(self.client.execute_command("SENTINEL", "failover", "mymaster"))
        except redis_sync.ResponseError as err:
            if "NOGOODSLAVE" in str(err):
                return False
            raise

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(10)
        stop_redis_server(self.replica)
        stop_redis_server(self.master)


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[Sentinel]:
    topology = Sentinel(tmp_path)
    try:
        wait_until(
            lambda: topology.master_addr() == ("127.0.0.1", topology.master_port),
            timeout=10,
            what="the sentinel to watch the master",
        )
        yield topology
    finally:
        topology.close()


def _obs(at: datetime, temp: float) -> Observation:
    return Observation(station_id=108, observed_at=at, fetched_at=at, source="t", temperature_c=temp)


async def test_store_through_sentinel_follows_a_failover(sentinel: Sentinel):
    redis = connect(f"redis+sentinel://127.0.0.1:{sentinel.port}/mymaster/0")
    store = Store(redis)
    t0 = datetime(2025, 7, 28, 6, 0, tzinfo=UTC)
    try:
        assert await store.save_observations([_obs(t0, 20.0)]) == 1
        epoch, _ = await store.acquire_lease("a", 60_000)
        assert epoch > 0

        wait_until(sentinel.knows_replica, timeout=15, what="the sentinel to find the replica")
        replica = redis_sync.Redis(port=sentinel.replica_port, decode_responses=True)
        wait_until(
            lambda: replica.hget("ticker:obs:ts", "108") is not None,
            timeout=10,
            what="the replica to catch up",
        )
        replica.close()
        wait_until(sentinel.failover, timeout=15, what="the sentinel to accept a failover")
        wait_until(
            lambda: sentinel.master_addr() == ("127.0.0.1", sentinel.replica_port),
            timeout=15,
            what="the failover",
        )

        # The same client object now writes to the promoted replica (READONLY on the old
        # master turns into a reconnect through the sentinel).
        async def written() -> bool:
            try:
                return await store.save_observations([_obs(t0 + timedelta(hours=1), 21.0)]) == 1
            except StoreError:  # the old master refuses writes until the client rediscovers
                return False

        await wait_for(written, timeout=15, what="a write through the new master")
        snap = await store.load_snapshot()
        assert snap.observations[108].temperature_c == 21.0
        assert await store.extend_lease("a", 60_000)  # the lease came across with the data
    finally:
        await redis.aclose()
