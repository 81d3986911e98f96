"""Payloads of the fake API Hub: ASOS rows, 초단기실황 items and the Hub's error answers."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from aiohttp import web

from ticker.models import KST, Station
from ticker.poll.sources.sim import simulate
from ticker.weather import Condition

# A representative total cloud amount (tenths) for each sky word the simulation gives.
_CLOUD_TENTHS = {
    Condition.CLEAR: 1,
    Condition.PARTLY_CLOUDY: 4,
    Condition.MOSTLY_CLOUDY: 7,
    Condition.OVERCAST: 9,
    Condition.RAIN: 9,
    Condition.SNOW: 9,
    Condition.SLEET: 9,
}
# 초단기실황 PTY: 0 none, 1 rain, 2 rain/snow, 3 snow.
_PTY = {Condition.RAIN: "1", Condition.SLEET: "2", Condition.SNOW: "3"}


def _f(value: float | None, digits: int = 1, missing: str = "-9.0") -> str:
    return missing if value is None else f"{value:.{digits}f}"


def station_row(station: Station, hour: datetime) -> dict[str, str]:
    """Every column of one plausible sfctm2 row, as the Hub formats it (missing markers included)."""
    obs = simulate(station, hour, hour)
    ta = obs.temperature_c if obs.temperature_c is not None else 0.0
    hm = obs.humidity_pct if obs.humidity_pct is not None else 60.0
    td = ta - (100.0 - hm) / 5.0
    pv = 6.11 * math.exp(17.27 * td / (td + 237.3))
    rn = obs.precipitation_mm or 0.0
    cloud = _CLOUD_TENTHS.get(obs.condition, -9) if obs.condition else -9
    ps = 1012.0 + (math.sin(hour.timestamp() / 86400.0) * 6.0)
    wd = int((obs.wind_dir_deg or 0.0) / 10)
    return {
        "TM": hour.astimezone(KST).strftime("%Y%m%d%H%M"),
        "STN": str(station.id),
        "WD": str(wd if (obs.wind_speed_ms or 0) > 0 else 0),
        "WS": _f(obs.wind_speed_ms),
        "GST_WD": "-9", "GST_WS": "-9.0", "GST_TM": "-9",
        "PA": _f(ps - station.alt_m * 0.12), "PS": _f(ps), "PT": "-9", "PR": "-9.0",
        "TA": _f(ta), "TD": _f(td), "HM": _f(hm), "PV": _f(pv),
        "RN": _f(rn) if rn > 0 else "-9.0",
        "RN_DAY": _f(rn) if rn > 0 else "-9.0",
        "RN_JUN": "-9.0", "RN_INT": "-9.0", "SD_HR3": "-9.0", "SD_DAY": "-9.0", "SD_TOT": "-9.0",
        "WC": "-9", "WP": "-9", "WW": "-",
        "CA_TOT": str(cloud), "CA_MID": str(max(cloud - 2, 0) if cloud >= 0 else -9), "CH_MIN": "-9",
        "CT": "-", "CT_TOP": "-9", "CT_MID": "-9", "CT_LOW": "-9",
        "VS": "2000", "SS": "0.0", "SI": "0.00", "ST_GD": "-9", "TS": _f(ta + 2.0),
        "TE_005": "-99.0", "TE_01": "-99.0", "TE_02": "-99.0", "TE_03": "-99.0",
        "ST_SEA": "-9", "WH": "-9.0", "BF": "-9", "IR": "1" if rn > 0 else "3", "IX": "2",
    }  # fmt: skip


def ncst_items(station: Station, base: datetime, nx: int, ny: int) -> list[dict[str, Any]]:
    """The eight 초단기실황 categories of a grid cell at a base time, as strings like the live API."""
    obs = simulate(station, base, base)
    ws = obs.wind_speed_ms or 0.0
    vec = obs.wind_dir_deg or 0.0
    rad = math.radians(vec)
    values = {
        "PTY": _PTY.get(obs.condition, "0") if obs.condition else "0",
        "REH": _f(obs.humidity_pct, 0, "0"),
        "RN1": _f(obs.precipitation_mm) if obs.precipitation_mm else "0",
        "T1H": _f(obs.temperature_c),
        "UUU": _f(-ws * math.sin(rad)),
        "VEC": _f(vec, 0, "0"),
        "VVV": _f(-ws * math.cos(rad)),
        "WSD": _f(ws),
    }
    local = base.astimezone(KST)
    return [
        {
            "baseDate": local.strftime("%Y%m%d"),
            "baseTime": local.strftime("%H%M"),
            "category": category,
            "nx": nx,
            "ny": ny,
            "obsrValue": value,
        }
        for category, value in values.items()
    ]


def ncst_envelope(code: str, message: str, items: list[dict[str, Any]], rows: int = 1000) -> web.Response:
    """The data.go.kr JSON envelope; ``items`` is "" when empty, as the live service sends it."""
    header = {"resultCode": code, "resultMsg": message}
    if code != "00":
        return web.json_response({"response": {"header": header}})
    body = {
        "dataType": "JSON",
        "items": {"item": items} if items else "",
        "pageNo": 1,
        "numOfRows": rows,
        "totalCount": len(items),
    }
    return web.json_response({"response": {"header": header, "body": body}})


def hub_error(status: int, message: str) -> web.Response:
    """The Hub's JSON error answer, pretty-printed like the live one."""
    doc = {"result": {"status": status, "message": message}}
    text = json.dumps(doc, ensure_ascii=False, indent=4)
    return web.Response(status=status, text=text, content_type="application/json", charset="UTF-8")


def maintenance_page(status: int) -> web.Response:
    html = (
        '<!DOCTYPE html>\n<html lang="ko">\n<head><meta charset="utf-8">'
        "<title>기상청 API허브 - 시스템 점검</title></head>\n"
        "<body><h1>시스템 점검 중입니다</h1><p>보다 나은 서비스를 위하여 시스템 점검을 실시하고 있습니다.</p>"
        "</body>\n</html>\n"
    )
    return web.Response(status=status, text=html, content_type="text/html", charset="utf-8")


def gateway_error_xml(code: int, auth_msg: str, status: int) -> web.Response:
    """The data.go.kr gateway's XML rejection, sent whatever dataType was asked."""
    xml = (
        "<OpenAPI_ServiceResponse>\n\t<cmmMsgHeader>\n\t\t<errMsg>SERVICE ERROR</errMsg>\n"
        f"\t\t<returnAuthMsg>{auth_msg}</returnAuthMsg>\n"
        f"\t\t<returnReasonCode>{code}</returnReasonCode>\n"
        "\t</cmmMsgHeader>\n</OpenAPI_ServiceResponse>"
    )
    return web.Response(status=status, text=xml, content_type="text/xml", charset="UTF-8")


def gateway_error_json(code: int, auth_msg: str, status: int) -> web.Response:
    """The newer gateways' JSON form of the same rejection."""
    doc = {
        "OpenAPI_ServiceResponse": {
            "cmmMsgHeader": {
                "errMsg": "SERVICE ERROR",
                "returnAuthMsg": auth_msg,
                "returnReasonCode": str(code),
            }
        }
    }
    return web.json_response(doc, status=status)
