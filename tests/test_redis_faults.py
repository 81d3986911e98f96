"""Redis goes away under steady widget traffic and comes back empty: real processes throughout."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pytest

from tests.support.fleet import Fleet, Traffic, report
from tests.support.helpers import parse_widget, wait_until

INTERVAL_S = 3.0
TTL_S = 3.0


def test_widget_answers_through_a_redis_outage_and_an_empty_redis_is_refilled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    with Fleet(tmp_path) as fleet:
        webs = [fleet.add(f"web{i}", role="web", interval_s=INTERVAL_S, lease_ttl_s=TTL_S) for i in (1, 2)]
        poller = fleet.add("poller", role="poller", interval_s=INTERVAL_S, lease_ttl_s=TTL_S)
        for replica in (*webs, poller):
            replica.wait_healthy()
        for web in webs:
            wait_until(
                functools.partial(lambda w: w.widget_stations() == 16, web),
                timeout=20,
                what=f"16 stations on {web.name}",
            )
        redis = fleet.redis.client()

        with Traffic([w.base + "/widget" for w in webs]) as traffic:
            wait_until(lambda: len(traffic.results) >= 20, timeout=10, what="traffic")
            down_at = time.time()
            fleet.redis.stop()
            # Down long enough for the poller's lease to run out and every web process to notice.
            wait_until(
                lambda: "leader: no (not renewed in time)" in poller.log_text(),
                timeout=TTL_S * 4,
                what="the poller to give up the lease",
            )
            for web in webs:
                wait_until(
                    functools.partial(lambda w: "cannot follow snapshot updates" in w.log_text(), web),
                    timeout=15,
                    what=f"{web.name} to notice the outage",
                )
            during = [r for r in traffic.results if r[0] >= down_at]
            wait_until(
                lambda: len(traffic.results) > len(during) + 40,
                timeout=10,
                what="more requests while Redis is down",
            )

            fleet.redis.start()  # empty: no data, no lease, no heartbeat
            up_at = time.time()
            wait_until(
                lambda: redis.hlen("ticker:obs") == 16, timeout=INTERVAL_S * 4, what="Redis to be refilled"
            )
            refill_s = time.time() - up_at
            for web in webs:
                wait_until(
                    functools.partial(lambda w: "snapshot updates from Redis resumed" in w.log_text(), web),
                    timeout=15,
                    what=f"{web.name} to follow Redis again",
                )
            after = len(traffic.results)
            wait_until(lambda: len(traffic.results) > after + 20, timeout=10, what="traffic after")

        outage = [r for r in traffic.results if down_at <= r[0] < up_at]
        errors = [(status, body[:80]) for _, status, body in traffic.results if status != 200]
        short = [r for r in traffic.results if r[1] == 200 and len(parse_widget(r[2]).stations) != 16]
        report(
            capsys,
            f"\nRedis down {up_at - down_at:.1f}s: {len(outage)} widget requests during the "
            f"outage, {len(traffic.results)} in all, {len(errors)} errors, {len(short)} "
            f"incomplete; empty Redis refilled {refill_s:.2f}s after it came back "
            f"(poll interval {INTERVAL_S:.0f}s)",
        )
        assert len(outage) >= 40
        assert errors == []
        assert short == []
        assert refill_s <= INTERVAL_S
        assert "leader: yes" in poller.log_text().split("leader: no (not renewed in time)")[1]
