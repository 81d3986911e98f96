"""deploy/prometheus/alerts.yml: valid for promtool, fires when it should, on metrics that exist."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from tests.conftest import ROOT
from tests.support.helpers import wait_for
from tests.support.ops_support import has_cycle, ops_app, samples

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
METRIC = re.compile(r"\bticker_[a-z0-9_]+\b")


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: apt-get install prometheus (.ci/run does)"
    return found


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_rules() -> None:
    proc = subprocess.run(
        [promtool(), "check", "rules", str(ALERTS)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules())} rules found" in proc.stdout


def test_every_alert_has_a_severity_and_a_runbook_line() -> None:
    names = [r["alert"] for r in rules()]
    for wanted in (
        "TickerStationStale", "TickerPollerNotPolling", "TickerUpstreamRejected",
        "TickerNoLeader", "TickerRedisDown", "TickerWarningsUnknown",
    ):  # fmt: skip
        assert wanted in names
    for rule in rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        runbook = rule["annotations"]["runbook"]
        assert runbook.strip() and "\n" not in runbook.strip(), rule["alert"]


async def test_every_metric_the_rules_name_is_exported(
    store, aiohttp_client, settings, stations, clock
) -> None:
    settings = settings.model_copy(update={"poll_interval_s": 3600.0})
    app = ops_app(settings, stations, store, clock, role="all", registry=CollectorRegistry())
    client = await aiohttp_client(app)
    await wait_for(lambda: has_cycle(store), what="the first poll cycle")
    await wait_for(lambda: _warnings_polled(store), what="the first warnings cycle")
    exported = {name for name, _ in samples(await (await client.get("/metrics")).text())}
    named = {m for rule in rules() for m in METRIC.findall(rule["expr"])}
    assert len(named) >= 8
    assert named - exported == set()


async def _warnings_polled(store) -> bool:
    return await store.load_warnings_ok() is not None


# ---------------------------------------------------------------------------------------------
# Unit tests run by promtool's own rule engine. Series are per minute from t=0, so time() at
# "eval_time: 126m" is 7560; annotations are rendered from alerts.yml for the expected labels.

SCENARIOS: list[dict[str, Any]] = [
    {
        "series": {
            # Seoul's observation stops at t=0 (reported by two replicas); Busan never had one;
            # Gangneung keeps observing.
            'ticker_station_observed_timestamp_seconds{station="108",name="서울",instance="a"}': "0x200",
            'ticker_station_observed_timestamp_seconds{station="108",name="서울",instance="b"}': "0x200",
            'ticker_station_max_age_seconds{station="108",name="서울",instance="a"}': "7200x200",
            'ticker_station_max_age_seconds{station="108",name="서울",instance="b"}': "7200x200",
            'ticker_station_observed_timestamp_seconds{station="105",name="강릉",instance="a"}': "0+60x200",
            'ticker_station_max_age_seconds{station="105",name="강릉",instance="a"}': "7200x200",
            'ticker_station_state{station="159",name="부산",state="missing",instance="a"}': "1x200",
        },
        "checks": [
            ("TickerStationStale", "60m", [{"station": "159", "name": "부산"}]),
            ("TickerStationStale", "124m", [{"station": "159", "name": "부산"}]),
            (
                "TickerStationStale",
                "126m",
                [{"station": "108", "name": "서울"}, {"station": "159", "name": "부산"}],
            ),
        ],
    },
    {
        "series": {'ticker_station_state{station="108",name="서울",state="late",instance="a"}': "0 0 0 1x30"},
        "checks": [
            ("TickerStationLate", "5m", []),
            ("TickerStationLate", "20m", [{"station": "108", "name": "서울"}]),
        ],
    },
    {
        "series": {
            "ticker_poller_last_cycle_timestamp_seconds": "0+60x10 600x30",
            "ticker_poll_interval_seconds": "60x40",
            "ticker_redis_up": "1x40",
        },
        "checks": [
            ("TickerPollerNotPolling", "12m", []),
            ("TickerPollerNotPolling", "17m", [{}]),
        ],
    },
    {
        "series": {"ticker_redis_up": "1x10"},  # Redis answers, yet no cycle was ever recorded
        "checks": [("TickerPollerNotPolling", "1m", []), ("TickerPollerNotPolling", "5m", [{}])],
    },
    {
        "series": {
            'ticker_source_failing{source="kma_apihub",kind="quota",instance="a"}': "0 0 1x40",
            'ticker_source_failing{source="kma_apihub",kind="timeout",instance="a"}': "0x2 1x40",
        },
        "checks": [
            ("TickerUpstreamRejected", "4m", []),
            ("TickerUpstreamRejected", "10m", [{"source": "kma_apihub", "kind": "quota"}]),
            ("TickerUpstreamFailing", "20m", []),
            ("TickerUpstreamFailing", "35m", [{"source": "kma_apihub", "kind": "timeout"}]),
        ],
    },
    {
        # The warnings feed answers every minute until t=10m, then fails (the scrape says up=0
        # once the answer is older than the max age, 30 min, at t=40m).
        "series": {
            'ticker_warnings_last_success_timestamp_seconds{source="kma_warnings",instance="a"}': "0+60x10 600x40",
            'ticker_warnings_max_age_seconds{source="kma_warnings",instance="a"}': "1800x50",
            'ticker_warnings_up{source="kma_warnings",instance="a"}': "1x40 0x10",
        },
        "checks": [
            ("TickerWarningsUnknown", "30m", []),
            ("TickerWarningsUnknown", "41m", []),
            ("TickerWarningsUnknown", "43m", [{"source": "kma_warnings"}]),
        ],
    },
    {
        "series": {
            'ticker_is_leader{instance="a"}': "1 1 0x20",
            'ticker_is_leader{instance="b"}': "0x22",
        },
        "checks": [("TickerNoLeader", "4m", []), ("TickerNoLeader", "9m", [{}])],
    },
    {
        "series": {
            'ticker_is_leader{instance="a"}': "1x20",
            'ticker_is_leader{instance="b"}': "1x20",
        },
        "checks": [("TickerSeveralLeaders", "5m", []), ("TickerSeveralLeaders", "12m", [{}])],
        "value": "2",
    },
    {
        "series": {
            'ticker_redis_up{instance="a"}': "1 1 0x10",
            'ticker_redis_up{instance="b"}': "1x12",
        },
        "checks": [("TickerRedisDown", "3m", []), ("TickerRedisDown", "5m", [{"instance": "a"}])],
    },
    {
        # Every answer shows data between 90 and 120 minutes old: the p99 is 7182 s.
        "series": {
            'ticker_served_data_age_seconds_bucket{le="5400.0"}': "0x60",
            'ticker_served_data_age_seconds_bucket{le="7200.0"}': "0+100x60",
            'ticker_served_data_age_seconds_bucket{le="+Inf"}': "0+100x60",
        },
        "checks": [
            ("TickerReadersSeeOldData", "10m", []),
            ("TickerReadersSeeOldData", "35m", [{}]),
        ],
        "value": "1h 59m 42s",
    },
]


def _render(text: str, labels: dict[str, str], value: str | None) -> str:
    text = re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels[m.group(1)], text)
    if "$value" in text:
        assert value is not None, text
        text = re.sub(r"\{\{\s*\$value(\s*\|\s*\w+)?\s*\}\}", value, text)
    return text


def _promtool_tests() -> dict[str, Any]:
    by_name = {r["alert"]: r for r in rules()}
    tests = []
    for scenario in SCENARIOS:
        checks = []
        for name, at, expected in scenario["checks"]:
            rule = by_name[name]
            alerts = []
            for extra in expected:
                labels = {**rule["labels"], **extra}
                annotations = {
                    k: _render(v, labels, scenario.get("value")) for k, v in rule["annotations"].items()
                }
                alerts.append({"exp_labels": labels, "exp_annotations": annotations})
            checks.append({"eval_time": at, "alertname": name, "exp_alerts": alerts})
        tests.append({
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in scenario["series"].items()],
            "alert_rule_test": checks,
        })  # fmt: skip
    return {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": tests}


def test_alerts_fire_when_they_should(tmp_path: Path) -> None:
    spec = tmp_path / "alerts_test.yml"
    spec.write_text(yaml.safe_dump(_promtool_tests(), allow_unicode=True), encoding="utf-8")
    proc = subprocess.run(
        [promtool(), "test", "rules", str(spec)],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_every_rule_is_seen_both_firing_and_quiet() -> None:
    seen: dict[str, list[list[dict[str, str]]]] = {}
    for scenario in SCENARIOS:
        for name, _, expected in scenario["checks"]:
            seen.setdefault(name, []).append(expected)
    assert set(seen) == {r["alert"] for r in rules()}
    for name, outcomes in seen.items():
        assert any(outcomes), name
        assert any(o != outcomes[-1] for o in outcomes), name  # something changed over time
