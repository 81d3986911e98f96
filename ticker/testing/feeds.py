"""Payloads of the fake API Hub's weather-word feeds: AWS minute data and 초단기예보.

Built after real answers (tests/fixtures/README.md): the minute frame keeps the 2026 answer's
EUC-KR legend and its fixed-width rows (``%12s%6d`` then 16 × ``%7.1f``, RE -99.9 as at every
station in that answer); ``disp=1`` gives the comma-separated rows ending in ``,=``. The forecast
has the 60 items of a real answer: ten categories in the real order × six hours from (HH+1)00.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ticker.models import KST, Station
from ticker.poll.sources.sim import simulate
from ticker.testing.payloads import ncst_envelope
from ticker.weather import Condition

if TYPE_CHECKING:
    from ticker.testing.fake_upstream import FakeApiHub, Fault

MINUTE_COLUMNS = (
    "TM", "STN", "WD1", "WS1", "WDS", "WSS", "WD10", "WS10", "TA", "RE",
    "RN-15m", "RN-60m", "RN-12H", "RN-DAY", "HM", "PA", "PS", "TD",
)  # fmt: skip
MINUTE_HEADER = (
    "#START7777\n"
    "#" + "-" * 98 + "\n"
    "#  WD1    : 1분 평균 풍향 (degree) : 0-N, 90-E, 180-S, 270-W, 360-무풍 \n"
    "#  WS1    : 1분 평균 풍속 (m/s) \n"
    "#  WDS    : 최대 순간 풍향 (degree) \n"
    "#  WSS    : 최대 순간 풍속 (m/s) \n"
    "#  WD10   : 10분 평균 풍향 (degree) \n"
    "#  WS10   : 10분 평균 풍속 (m/s) \n"
    "#  TA     : 1분 평균 기온 (C) \n"
    "#  RE     : 강수감지 (0-무강수, 1-강수, 음수인 경우 null값)  \n"
    "#  RN-15m : 15분 누적 강수량 (mm) \n"
    "#  RN-60m : 60분 누적 강수량 (mm) \n"
    "#  RN-12H : 12시간 누적 강수량 (mm) \n"
    "#  RN-DAY : 일 누적 강수량 (mm) \n"
    "#  HM     : 1분 평균 상대습도 (%) \n"
    "#  PA     : 1분 평균 현지기압 (hPa) \n"
    "#  PS     : 1분 평균 해면기압 (hPa) \n"
    "#  TD     : 이슬점온도 (C) \n"
    "#  *) -50 이하면 관측이 없거나, 에러처리된 것을 표시 \n"
    "#" + "-" * 98 + "\n"
    "# YYMMDDHHMI   STN    WD1    WS1    WDS    WSS   WD10   WS10     TA     RE RN-15m RN-60m"
    " RN-12H RN-DAY     HM     PA     PS     TD\n"
    "#        KST    ID    deg    m/s    deg    m/s    deg    m/s      C      1     mm     mm"
    "     mm     mm      %    hPa    hPa     C\n"
)
MINUTE_END = "#7777END\n"
_WET = {Condition.RAIN, Condition.SNOW, Condition.SLEET, Condition.SHOWER, Condition.THUNDERSTORM}


def minute_values(station: Station, at: datetime, *, published: bool) -> dict[str, float]:
    """One station's minute as numbers; a minute not produced yet is all -99.9 (as seen)."""
    if not published:
        return {c: -99.9 for c in MINUTE_COLUMNS[2:]}
    obs = simulate(station, at, at)
    ta = obs.temperature_c if obs.temperature_c is not None else 0.0
    hm = obs.humidity_pct if obs.humidity_pct is not None else 60.0
    wet = obs.condition in _WET
    ws = obs.wind_speed_ms or 0.0
    wd = obs.wind_dir_deg or 0.0
    rn = obs.precipitation_mm or 0.0
    ps = 1012.0 + math.sin(at.timestamp() / 86400.0) * 6.0
    return {
        "WD1": wd, "WS1": ws, "WDS": wd, "WSS": ws * 1.6, "WD10": wd, "WS10": ws,
        "TA": ta, "RE": -99.9, "RN-15m": round(rn / 4, 1) if wet else 0.0,
        "RN-60m": rn if wet else 0.0, "RN-12H": rn if wet else 0.0, "RN-DAY": rn if wet else 0.0,
        "HM": hm, "PA": ps - station.alt_m * 0.12, "PS": ps, "TD": ta - (100.0 - hm) / 5.0,
    }  # fmt: skip


def minute_row(tm: str, sid: int, values: dict[str, float], *, disp: int) -> str:
    numbers = [values[c] for c in MINUTE_COLUMNS[2:]]
    if disp == 1:
        return ",".join([tm, str(sid), *(f"{v:.1f}" for v in numbers)]) + ",="
    return f"{tm}{sid:6d}" + "".join(f"{v:7.1f}" for v in numbers)


def minute_frame(rows: list[str], *, help_lines: bool = True) -> bytes:
    """The whole answer as the Hub sends it: EUC-KR, LF line ends."""
    header = MINUTE_HEADER if help_lines else "#START7777\n" + MINUTE_HEADER.splitlines(True)[-2]
    return (header + "".join(r + "\n" for r in rows) + MINUTE_END).encode("cp949")


FCST_CATEGORIES = ("LGT", "PTY", "RN1", "SKY", "T1H", "REH", "UUU", "VVV", "VEC", "WSD")
_PTY = {Condition.RAIN: "1", Condition.SLEET: "2", Condition.SNOW: "3", Condition.SHOWER: "1"}


def _sky(station: Station, at: datetime) -> str:
    obs = simulate(station, at, at)
    if obs.condition in (Condition.CLEAR, Condition.PARTLY_CLOUDY):
        return "1"
    return "3" if obs.condition is Condition.MOSTLY_CLOUDY else "4"


def fcst_items(
    station: Station, issue: datetime, nx: int, ny: int, overrides: dict[str, str]
) -> list[dict[str, Any]]:
    """The 60 items of one issue: category-major, then forecast time ascending (as seen)."""
    local = issue.astimezone(KST)
    hours = [local.replace(minute=0) + timedelta(hours=h) for h in range(1, 7)]
    items: list[dict[str, Any]] = []
    for category in FCST_CATEGORIES:
        for at in hours:
            obs = simulate(station, at, at)
            value = {
                "LGT": "0",
                "PTY": _PTY.get(obs.condition, "0") if obs.condition else "0",
                "RN1": f"{obs.precipitation_mm:.1f}mm" if obs.precipitation_mm else "강수없음",
                "SKY": _sky(station, at),
                "T1H": str(round(obs.temperature_c or 0.0)),
                "REH": str(round(obs.humidity_pct or 60.0)),
                "UUU": "-0.1",
                "VVV": "0",
                "VEC": str(round(obs.wind_dir_deg or 0.0)),
                "WSD": str(round(obs.wind_speed_ms or 0.0)),
            }[category]
            items.append(
                {
                    "baseDate": local.strftime("%Y%m%d"),
                    "baseTime": local.strftime("%H%M"),
                    "category": category,
                    "fcstDate": at.strftime("%Y%m%d"),
                    "fcstTime": at.strftime("%H%M"),
                    "fcstValue": overrides.get(category, value),
                    "nx": nx,
                    "ny": ny,
                }
            )
    return items


async def minute_answer(fake: FakeApiHub, request: web.Request, fault: Fault) -> web.StreamResponse:
    """AWS minute data of every configured station (``stn=0``) or of one station."""
    q = request.query
    now = fake.clock().astimezone(KST).replace(second=0, microsecond=0)
    try:
        at = datetime.strptime(q.get("tm2", ""), "%Y%m%d%H%M").replace(tzinfo=KST)
    except ValueError:
        at = now - fake.minute_lag
    stn = q.get("stn", "0")
    ids = list(fake.stations) if stn in ("", "0") else [int(stn)] if stn.isdigit() else []
    disp = 1 if q.get("disp") == "1" else 0
    rows = []
    for sid in sorted(ids):
        if sid in fault.missing:
            continue
        values = minute_values(fake.station(sid), at, published=at <= now - fake.minute_lag)
        for column, value in fault.values.get(sid, {}).items():
            if column in values:
                values[column] = float(value)
        rows.append(minute_row(at.strftime("%Y%m%d%H%M"), sid, values, disp=disp))
    body = minute_frame([] if fault.kind == "empty" else rows, help_lines=q.get("help") == "1")
    if fault.kind == "truncate":
        body = body[: body.rindex(b"#7777END")]
    if fault.kind == "disconnect":
        return await fake.disconnect(request, body)
    return web.Response(body=body, content_type="text/plain", charset="euc-kr")


def fcst_answer(fake: FakeApiHub, request: web.Request, fault: Fault) -> web.Response:
    """초단기예보 of one grid cell; an issue not out yet (before HH30 + fcst_lag) is NO_DATA."""
    q = request.query
    try:
        stamp = q.get("base_date", "") + q.get("base_time", "")
        issue = datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=KST)
        nx, ny = int(q.get("nx", "")), int(q.get("ny", ""))
    except ValueError:
        return ncst_envelope("10", "INVALID_REQUEST_PARAMETER_ERROR", [])
    if issue + fake.fcst_lag > fake.clock():
        return ncst_envelope("03", "NO_DATA", [])
    station = next((s for s in fake.stations.values() if (s.nx, s.ny) == (nx, ny)), None)
    if station is not None and station.id in fault.missing:
        return ncst_envelope("03", "NO_DATA", [])
    wanted = fault.values.get(station.id if station else 0, {})
    overrides = {k: f"{v:.1f}" if isinstance(v, float) else str(v) for k, v in wanted.items()}
    items = fcst_items(station or fake.station(999), issue, nx, ny, overrides)
    return ncst_envelope("00", "NORMAL_SERVICE", items, rows=60)
