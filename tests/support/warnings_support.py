"""Weather-warning test helpers: the fake Hub's scripted rows, and the service pointed at it."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp.test_utils import TestClient
from aiohttp.web import Application, Request
from pydantic import SecretStr

from ticker.app import WARNINGS_POLLER
from ticker.config import Settings
from ticker.regions import parse_time
from ticker.testing.fake_warnings import WrnSpec
from ticker.web import keys
from ticker.wrn import WeatherWarning

KEY = "Hub-Key-For-Warnings-7"

# 2025-07-28 (the clock fixture's day, 15:05 KST): the rows a test scripts on the fake Hub.
SEOUL_HEAT_WARNING = WrnSpec(
    reg_up="L1100000", reg_up_ko="서울특별시", reg_id="L1100400", reg_ko="서울서북권",
    tm_fc="202507281000", tm_ef="202507281100", wrn="폭염", lvl="경보", cmd="변경",
)  # fmt: skip
SEOUL_OLDER_ADVISORY = SEOUL_HEAT_WARNING.model_copy(
    update={"tm_fc": "202507270500", "tm_ef": "202507271100", "lvl": "주의", "cmd": "발표"}
)
ULLEUNG_WIND = WrnSpec(  # the 2026-09-21 row's region: no configured station is in it
    reg_up="L1600000", reg_up_ko="울릉도.독도", reg_id="L1072100", reg_ko="울릉도.독도",
    tm_fc="202507280900", tm_ef="202507281000", wrn="강풍", lvl="주의",
)  # fmt: skip
GANGNEUNG_PRELIMINARY = WrnSpec(
    reg_up="L1022500", reg_up_ko="강릉시", reg_id="L1022510", reg_ko="강릉평지",
    tm_fc="202507281400", tm_ef="202507291758", wrn="강풍", lvl="예비",
)  # fmt: skip
DAEGU_PARENT_RAIN = WrnSpec(  # on 대구 (L1140000), the parent of 대구중부 where station 143 is
    reg_up="L1000000", reg_up_ko="전국", reg_id="L1140000", reg_ko="대구",
    tm_fc="202507281200", tm_ef="202507281230", wrn="호우", lvl="주의", ed_tm="28일 밤(21시~24시)",
)  # fmt: skip
GEOJE_LIFTED = [
    WrnSpec(
        reg_up="L1080000", reg_up_ko="경상남도", reg_id="L1082200", reg_ko="거제",
        tm_fc="202507280900", tm_ef="202507280900", wrn="호우", lvl="주의",
    ),
    WrnSpec(
        reg_up="L1080000", reg_up_ko="경상남도", reg_id="L1082200", reg_ko="거제",
        tm_fc="202507281300", tm_ef="202507281300", wrn="호우", lvl="주의", cmd="해제",
    ),
]  # fmt: skip
SCENARIO = [
    SEOUL_OLDER_ADVISORY,
    SEOUL_HEAT_WARNING,
    ULLEUNG_WIND,
    GANGNEUNG_PRELIMINARY,
    DAEGU_PARENT_RAIN,
    *GEOJE_LIFTED,
]


def hub_settings(settings: Settings, base_url: str, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "source": "kma_apihub",
            "kma_auth_key": SecretStr(KEY),
            "kma_base_url": base_url,
            "kma_timeout_s": 1.0,
            "kma_retries": 0,
            "fallback": "none",
            "poll_interval_s": 3600.0,
            "warnings_interval_s": 3600.0,
            **extra,
        }
    )


async def poll_warnings(client: TestClient[Request, Application]) -> str:
    """One warnings cycle now (as the schedule would run it), then the snapshot catches up."""
    app = client.app
    assert app is not None
    result = await app[WARNINGS_POLLER].run_once()
    await app[keys.LIVE].refresh(app[keys.STORE])
    return result.outcome


_ITEM = re.compile(r'<li class="kt-st[^"]*" data-station="(\d+)"[^>]*>(.*?)</li>', re.DOTALL)
_BADGE = re.compile(r'<span class="kt-wrn [^"]*"[^>]*>([^<]*)')


def badges(html: str) -> dict[int, list[str]]:
    """Each station's badge texts in a rendered widget (stations without badges left out)."""
    out: dict[int, list[str]] = {}
    for sid, body in _ITEM.findall(html):
        found = _BADGE.findall(body)
        if found:
            out[int(sid)] = found
    return out


async def surfaces(client: TestClient[Request, Application]) -> dict[str, Any]:
    """What readers get: badges in the widget and the frame, the JSON documents."""
    widget = await (await client.get("/widget")).text()
    frame = await (await client.get("/widget/frame?theme=dark")).text()
    return {
        "widget": badges(widget),
        "frame": badges(frame),
        "widget_html": widget,
        "warnings": json.loads(await (await client.get("/v1/warnings")).text()),
        "observations": json.loads(await (await client.get("/v1/observations")).text()),
        "seoul": json.loads(await (await client.get("/v1/stations/108")).text()),
    }


# Warnings as stored (for tests that write the store directly, without the fake Hub).

HEAT = WeatherWarning(
    kind="폭염", level="경보", region_id="L1100400", region_name="서울서북권",
    issued_at=parse_time("202507281000"), effective_at=parse_time("202507281100"), command="발표",
)  # fmt: skip
WIND_AHEAD = WeatherWarning(
    kind="강풍", level="예비", region_id="L1022510", region_name="강릉평지", issued_at=parse_time("202507281400"),
    period_code="202507291758", command="발표",
)  # fmt: skip
