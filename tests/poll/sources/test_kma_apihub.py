"""The kma_apihub source against the fake API Hub: data, every fault class, retries, the secret key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import FixedClock
from tests.support.ports import free_port
from ticker.errors import UpstreamError
from ticker.models import KST, Station
from ticker.poll.resilience import NO_RETRY, RetryPolicy
from ticker.poll.sources.kma_apihub import KmaApiHubSource, classify, sfctm2_params
from ticker.testing.fake_upstream import FakeApiHub

KEY = "Sekret-Hub-Key_0123"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
async def fake(stations: list[Station], clock: FixedClock) -> AsyncIterator[FakeApiHub]:
    async with FakeApiHub(stations=stations, auth_key=KEY, clock=clock) as hub:
        yield hub


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Sleeps:
    """A sleep that only records: retries run at once and the pauses can be checked."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


def source(http: aiohttp.ClientSession, base_url: str, **kwargs: object) -> KmaApiHubSource:
    options: dict[str, object] = {"auth_key": KEY, "timeout_s": 5.0, "retry": NO_RETRY, **kwargs}
    return KmaApiHubSource(session=http, base_url=base_url, **options)  # type: ignore[arg-type]


def test_the_url_asks_for_the_stations_joined_by_colons():
    assert sfctm2_params([108, 159], "k") == {"stn": "108:159", "help": "0", "authKey": "k"}
    at = datetime(2025, 7, 28, 14, 0, tzinfo=KST)
    assert sfctm2_params([108], "k", at)["tm"] == "202507281400"


async def test_latest_rows_for_every_station(fake, http, stations, clock):
    rows = await source(http, fake.base_url).fetch(stations, clock())
    assert [r.station_id for r in rows] == [s.id for s in stations]
    assert {r.observed_at.isoformat() for r in rows} == {"2025-07-28T15:00:00+09:00"}
    assert {r.source for r in rows} == {"kma_apihub"}
    params = fake.stats()["last_params"]["sfctm2"]
    assert params["stn"] == ":".join(str(s.id) for s in stations)
    assert "tm" not in params and params["help"] == "0"
    served = fake.last_rows
    for row in rows:
        assert row.temperature_c == float(served[row.station_id]["TA"])


# fault -> the error class the source must report
FAULTS = [
    ({"kind": "auth"}, "auth", 401),
    ({"kind": "not_applied"}, "forbidden", 403),
    ({"kind": "forbidden_path"}, "forbidden", 403),
    ({"kind": "quota"}, "quota", 403),
    ({"kind": "maintenance"}, "maintenance", 503),
    ({"kind": "maintenance", "status": 200}, "maintenance", 200),
    ({"kind": "status", "status": 500}, "status", 500),
    ({"kind": "status", "status": 502}, "status", 502),
    ({"kind": "status", "status": 404}, "status", 404),
    ({"kind": "status", "status": 429}, "quota", 429),
    ({"kind": "truncate"}, "parse", None),
    ({"kind": "garbage"}, "parse", None),
    ({"kind": "empty"}, "no_data", None),
    ({"kind": "disconnect"}, "connection", None),
    (
        {
            "bad_rows": [
                98,
                105,
                108,
                133,
                143,
                152,
                156,
                159,
                172,
                184,
                201,
                226,
                238,
                259,
                283,
                294,
            ]
        },
        "parse",
        None,
    ),
]


@pytest.mark.parametrize(("fault", "kind", "status"), FAULTS, ids=[f"{k}-{s}" for _, k, s in FAULTS])
async def test_every_fault_is_classified(fake, http, stations, clock, fault, kind, status):
    fake.set_fault(**fault)
    with pytest.raises(UpstreamError) as caught:
        await source(http, fake.base_url).fetch(stations, clock())
    assert caught.value.kind == kind
    assert caught.value.status == status
    assert KEY not in str(caught.value) and KEY not in repr(caught.value.args)
    assert "\n" not in str(caught.value)


async def test_a_wrong_key_is_an_auth_error_that_names_no_key(fake, http, stations, clock):
    with pytest.raises(UpstreamError) as caught:
        await source(http, fake.base_url, auth_key="wrong-key-42").fetch(stations, clock())
    assert caught.value.kind == "auth"
    assert "유효한 인증키가 아닙니다" in str(caught.value)
    assert "wrong-key-42" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


async def test_a_silent_upstream_times_out_on_the_read_timeout(fake, http, stations, clock):
    fake.set_fault(latency_s=600)
    with pytest.raises(UpstreamError) as caught:
        await source(http, fake.base_url, timeout_s=0.3).fetch(stations, clock())
    assert caught.value.kind == "timeout"
    assert "127.0.0.1" in str(caught.value) and KEY not in str(caught.value)


async def test_nobody_listening_is_a_connection_error(http, stations, clock):
    with pytest.raises(UpstreamError) as caught:
        await source(http, f"http://127.0.0.1:{free_port()}").fetch(stations, clock())
    assert caught.value.kind == "connection"
    assert KEY not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


async def test_transient_faults_are_retried_with_jittered_backoff(fake, http, stations, clock):
    fake.set_fault(kind="status", status=503, times=2)
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=3, base_s=1.0, cap_s=8.0, budget_s=60)
    rows = await source(http, fake.base_url, retry=policy, sleep=sleeps).fetch(stations, clock())
    assert len(rows) == len(stations)
    assert fake.stats()["requests"]["sfctm2"] == 3
    assert len(sleeps.pauses) == 2
    assert 0 <= sleeps.pauses[0] <= 1.0 and 0 <= sleeps.pauses[1] <= 2.0


@pytest.mark.parametrize("kind", ["auth", "not_applied", "quota"])
async def test_faults_that_cannot_heal_are_not_retried(fake, http, stations, clock, kind):
    fake.set_fault(kind=kind)
    sleeps = Sleeps()
    with pytest.raises(UpstreamError):
        await source(http, fake.base_url, retry=RetryPolicy(attempts=5), sleep=sleeps).fetch(
            stations, clock()
        )
    assert fake.stats()["requests"]["sfctm2"] == 1
    assert sleeps.pauses == []


async def test_attempts_run_out(fake, http, stations, clock):
    fake.set_fault(kind="maintenance")
    sleeps = Sleeps()
    with pytest.raises(UpstreamError) as caught:
        await source(http, fake.base_url, retry=RetryPolicy(attempts=3), sleep=sleeps).fetch(
            stations, clock()
        )
    assert caught.value.kind == "maintenance"
    assert fake.stats()["requests"]["sfctm2"] == 3


async def test_stations_missing_from_the_latest_answer_are_asked_for_the_hour_before(
    fake, http, stations, clock
):
    fake.set_fault(missing=[108, 159], times=1)
    rows = await source(http, fake.base_url).fetch(stations, clock())
    by_id = {r.station_id: r for r in rows}
    assert set(by_id) == {s.id for s in stations}
    assert by_id[108].observed_at.isoformat() == "2025-07-28T14:00:00+09:00"
    assert by_id[98].observed_at.isoformat() == "2025-07-28T15:00:00+09:00"
    last = fake.stats()["last_params"]["sfctm2"]
    assert last["stn"] == "108:159" and last["tm"] == "202507281400"


async def test_a_station_missing_everywhere_is_simply_absent(fake, http, stations, clock):
    fake.set_fault(missing=[108])
    rows = await source(http, fake.base_url).fetch(stations, clock())
    assert 108 not in {r.station_id for r in rows}
    assert len(rows) == len(stations) - 1


def test_the_printable_url_has_no_key(http):
    src = KmaApiHubSource(session=http, auth_key=KEY, base_url="https://apihub.example/")
    url = src.redacted_url("/api/typ01/url/kma_sfctm2.php", sfctm2_params([108], KEY))
    assert url == "https://apihub.example/api/typ01/url/kma_sfctm2.php?stn=108&help=0&authKey=***"


@pytest.mark.parametrize(
    ("fixture", "status", "kind"),
    [
        ("hub_401.json", 401, "auth"),
        ("hub_403_not_applied.json", 403, "forbidden"),
        ("hub_403_not_allowed.json", 403, "forbidden"),
        ("hub_403_quota.json", 403, "quota"),
        ("hub_401.json", 200, "auth"),  # the status inside the JSON decides
        ("maintenance.html", 200, "maintenance"),
        ("maintenance.html", 503, "maintenance"),
    ],
)
def test_classify_recorded_answers(fixture: str, status: int, kind: str):
    body = (FIXTURES / fixture).read_bytes()
    ctype = "text/html" if fixture.endswith(".html") else "application/json"
    error = classify(status, ctype, body)
    assert error is not None and error.kind == kind


def test_a_frame_with_status_200_is_data():
    assert classify(200, "text/plain", (FIXTURES / "sfctm2_help0.txt").read_bytes()) is None
