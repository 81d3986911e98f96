"""A fake KMA API Hub: a real aiohttp server speaking the Hub's formats, with scriptable faults.

It serves ``kma_sfctm2.php`` (EUC-KR ``#START7777`` frames, 46 fixed-width columns, rows made
deterministically from the simulated weather of each station at the requested hour), the AWS
minute data ``nph-aws2_min`` and the typ02 ``getUltraSrtNcst`` and ``getUltraSrtFcst`` proxies (the
data.go.kr JSON envelope; see ``ticker.testing.feeds``), the weather-warning feeds
``wrn_now_data.php`` and ``wrn_reg.php`` (rows scripted with ``set_warnings`` or
``POST /_fake/warnings``; see ``fake_warnings``); it answers a wrong key like the Hub does, and
takes faults per endpoint over HTTP (``POST /_fake/fault``) or from Python (``FakeApiHub.set_fault``).

Run by hand: ``python -m ticker.testing.fake_upstream --port 8081 --key demo``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ticker.models import KST, Station
from ticker.poll.sources.kma_text import COLUMNS, END
from ticker.redaction import redact
from ticker.regions import packaged_regions
from ticker.testing.fake_warnings import WrnSpec, wrn_now_body, wrn_reg_body
from ticker.testing.feeds import fcst_answer, minute_answer
from ticker.testing.payloads import (
    gateway_error_json,
    gateway_error_xml,
    hub_error,
    maintenance_page,
    ncst_envelope,
    ncst_items,
    station_row,
)
from ticker.testing.rows import format_frame, format_row

logger = logging.getLogger(__name__)

SFCTM2 = "/api/typ01/url/kma_sfctm2.php"
ULTRA_NCST = "/api/typ02/openApi/VilageFcstInfoService_2.0/getUltraSrtNcst"
WRN_NOW = "/api/typ01/url/wrn_now_data.php"
WRN_REG = "/api/typ01/url/wrn_reg.php"

ULTRA_FCST = "/api/typ02/openApi/VilageFcstInfoService_2.0/getUltraSrtFcst"
AWS_MIN = "/api/typ01/cgi-bin/url/nph-aws2_min"
Endpoint = Literal["sfctm2", "ultra_ncst", "ultra_fcst", "aws_min", "wrn_now", "wrn_reg"]

FaultKind = Literal[
    "none",  # normal data (the row-level faults below still apply)
    "auth",  # 401 JSON: unknown key
    "not_applied",  # 403 JSON: API not applied for
    "quota",  # 403 JSON: call quota exceeded
    "forbidden_path",  # 403 JSON: API not served
    "maintenance",  # an HTML maintenance page (status 503 unless given)
    "status",  # a bare HTTP error (status 500 unless given)
    "truncate",  # the frame cut off mid-row, no #7777END
    "empty",  # #START7777 / #7777END with nothing between
    "garbage",  # random bytes
    "disconnect",  # headers, half the body, then the connection is closed
    "gateway_auth",  # ultra_ncst: XML SERVICE_KEY_IS_NOT_REGISTERED_ERROR even though JSON was asked
    "gateway_quota",  # ultra_ncst: XML LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR
    "gateway_json",  # ultra_ncst: the same gateway error as JSON, HTTP 403
    "no_data",  # ultra_ncst: resultCode 03 NO_DATA
]


class Fault(BaseModel):
    """What the next answers of one endpoint do wrong."""

    model_config = ConfigDict(extra="forbid")

    endpoint: Endpoint = "sfctm2"
    kind: FaultKind = "none"
    status: int | None = Field(default=None, ge=100, le=599)
    latency_s: float = Field(default=0.0, ge=0, le=3600)
    past_hour_latency_s: float = Field(
        default=0.0, ge=0, le=3600, description="sfctm2: extra latency of requests for a given hour (tm=)"
    )
    missing: list[int] = Field(default_factory=list, description="stations left out")
    sentinels: list[int] = Field(default_factory=list, description="stations with missing markers")
    duplicates: list[int] = Field(default_factory=list, description="stations with an older second row")
    future: list[int] = Field(
        default_factory=list, description="stations with a row future_minutes after the clock"
    )
    future_minutes: int = Field(default=60, ge=1)
    bad_rows: list[int] = Field(default_factory=list, description="stations whose row has 45 fields")
    values: dict[int, dict[str, str | float | int]] = Field(
        default_factory=dict, description="per-station column overrides, e.g. {108: {'TA': -9.0}}"
    )
    crlf: bool = False
    times: int | None = Field(default=None, ge=1, description="only the next N requests")


def _token(value: str | float | int) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


class FakeApiHub:
    """The fake Hub's state and app; start it on a free 127.0.0.1 port and point the ticker at it."""

    def __init__(
        self,
        *,
        stations: Sequence[Station] = (),
        auth_key: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.stations = {s.id: s for s in stations}
        self.auth_key = auth_key
        self.clock = clock or (lambda: datetime.now(UTC))
        self.faults: dict[str, Fault] = {}
        # Observation endpoints are always counted; the warning feeds appear once asked.
        self.counts: dict[str, int] = {"sfctm2": 0, "ultra_ncst": 0, "ultra_fcst": 0, "aws_min": 0}
        self.warnings: list[WrnSpec] = []  # the rows wrn_now_data.php answers with
        # When each product appears, after its base time (the fake's publication schedule).
        self.sfctm2_lag = timedelta(0)
        self.minute_lag = timedelta(minutes=1)
        self.fcst_lag = timedelta(minutes=15)  # issued at HH30, callable from HH45
        self.last_params: dict[str, dict[str, str]] = {}
        self.last_rows: dict[int, dict[str, str]] = {}
        self._lock = threading.Lock()
        self._stopping: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- Python API ------------------------------------------------------------------------

    def set_fault(self, fault: Fault | None = None, **fields: Any) -> Fault:
        """Replace the fault of one endpoint (``endpoint=`` field, default sfctm2)."""
        fault = fault or Fault(**fields)
        with self._lock:
            self.faults[fault.endpoint] = fault
        return fault

    def set_warnings(self, rows: Sequence[WrnSpec | dict[str, Any]]) -> list[WrnSpec]:
        """Script the rows of wrn_now_data.php (an empty list: no warning in effect)."""
        specs = [r if isinstance(r, WrnSpec) else WrnSpec.model_validate(r) for r in rows]
        with self._lock:
            self.warnings = specs
        return specs

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def reset(self) -> None:
        """No faults, zero counts."""
        with self._lock:
            self.faults.clear()
            self.counts = dict.fromkeys(self.counts, 0)
            self.last_params.clear()
            self.warnings = []

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.counts),
                "warnings": [r.model_dump() for r in self.warnings],
                "last_params": {k: dict(v) for k, v in self.last_params.items()},
                "faults": {k: f.model_dump() for k, f in self.faults.items()},
            }

    def _take_fault(self, endpoint: str) -> Fault:
        with self._lock:
            fault = self.faults.get(endpoint)
            if fault is None:
                return Fault(endpoint=endpoint)
            if fault.times is not None:
                left = fault.times - 1
                if left <= 0:
                    del self.faults[endpoint]
                else:
                    self.faults[endpoint] = fault.model_copy(update={"times": left})
            return fault

    def station(self, sid: int) -> Station:
        """A configured station, or a plausible stand-in for any other ASOS id."""
        known = self.stations.get(sid)
        if known is not None:
            return known
        return Station(
            id=sid, name=str(sid), name_en=str(sid), lat=36.5, lon=127.5, alt_m=50.0,
            nx=68, ny=100, max_age_s=7200, expected_interval_s=3600,
        )  # fmt: skip

    # -- serving ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(SFCTM2, self._sfctm2)
        app.router.add_get(ULTRA_NCST, self._ultra_ncst)
        app.router.add_get(WRN_NOW, self._wrn_now)
        app.router.add_get(WRN_REG, self._wrn_reg)
        app.router.add_post("/_fake/warnings", self._post_warnings)
        app.router.add_get(ULTRA_FCST, self._ultra_fcst)
        app.router.add_get(AWS_MIN, self._aws_min)
        app.router.add_get("/_fake/stats", self._get_stats)
        app.router.add_get("/_fake/fault", self._get_stats)
        app.router.add_post("/_fake/fault", self._post_fault)
        app.router.add_delete("/_fake/fault", self._delete_fault)
        app.router.add_post("/_fake/reset", self._post_reset)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen (port 0: a free one) and return the base URL."""
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeApiHub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _delay(self, seconds: float) -> None:
        if seconds <= 0 or self._stopping is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _count(self, endpoint: str, request: web.Request) -> None:
        with self._lock:
            self.counts[endpoint] = self.counts.get(endpoint, 0) + 1
            self.last_params[endpoint] = {
                k: redact(f"{k}={v}").split("=", 1)[1] for k, v in request.query.items()
            }

    def _key_ok(self, request: web.Request) -> bool:
        return self.auth_key is None or request.query.get("authKey") == self.auth_key

    async def _common_fault(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        """Answers that look the same on every Hub endpoint; None to go on to data."""
        await self._delay(fault.latency_s)
        if not self._key_ok(request) or fault.kind == "auth":
            return hub_error(401, "유효한 인증키가 아닙니다.")
        if fault.kind == "not_applied":
            return hub_error(403, "활용신청이 필요한 API 입니다. 활용신청 후 다시 시도해 주십시오.")
        if fault.kind == "quota":
            return hub_error(403, "API 호출 한도를 초과했습니다.")
        if fault.kind == "forbidden_path":
            return hub_error(403, "허용되지 않은 API 입니다.")
        if fault.kind == "maintenance":
            return maintenance_page(fault.status or 503)
        if fault.kind == "status":
            status = fault.status or 500
            return web.Response(status=status, text=f"{status} error\n")
        if fault.kind == "garbage":
            return web.Response(body=random.Random(7).randbytes(2048), content_type="text/plain")
        return None

    async def disconnect(self, request: web.Request, body: bytes) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": str(len(body))})
        resp.content_type = "text/plain"
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.close()
        return resp

    def hour_of(self, request: web.Request) -> datetime:
        """The requested ``tm`` hour, or the current hour of the fake's clock."""
        tm = request.query.get("tm")
        if tm and len(tm) >= 10 and tm[:10].isdigit():
            with contextlib.suppress(ValueError):
                return datetime.strptime(tm[:10], "%Y%m%d%H").replace(tzinfo=KST)
        return self.published_hour()

    def published_hour(self) -> datetime:
        """The newest hour whose rows are out at the fake's clock (``sfctm2_lag`` after the hour)."""
        return (self.clock() - self.sfctm2_lag).astimezone(KST).replace(minute=0, second=0, microsecond=0)

    def rows(self, station_ids: Sequence[int], hour: datetime, fault: Fault) -> list[str]:
        """Formatted data lines for the stations at this hour, with the fault's row changes."""
        lines: list[str] = []
        served: dict[int, dict[str, str]] = {}
        for sid in station_ids:
            if sid in fault.missing:
                continue
            values = station_row(self.station(sid), hour)
            if sid in fault.sentinels:
                values.update(TA="-99.0", TD="-99.0", HM="-9.0", WS="-9.0", WD="-9", RN="-9.0",
                              WC="-9", CA_TOT="-9", PA="-999.0")  # fmt: skip
            for column, value in fault.values.get(sid, {}).items():
                if column in COLUMNS:
                    values[column] = _token(value)
            if sid in fault.future:
                # Ahead of the fake's clock, not of the hour: near the end of an hour a row "one
                # hour after the hour" would be only minutes in the future.
                at = (self.clock().astimezone(KST) + timedelta(minutes=fault.future_minutes)).replace(
                    second=0, microsecond=0
                )
                ahead = station_row(self.station(sid), at)
                ahead["TM"] = at.strftime("%Y%m%d%H%M")
                ahead["TA"] = "45.5"
                lines.append(format_row(ahead))
            line = format_row(values)
            if sid in fault.bad_rows:
                line = line.rsplit(" ", 1)[0]
            lines.append(line)
            served[sid] = values
            if sid in fault.duplicates:
                older = station_row(self.station(sid), hour - timedelta(hours=1))
                older["TA"] = "-12.3"
                lines.append(format_row(older))
        self.last_rows = served
        return lines

    async def _sfctm2(self, request: web.Request) -> web.StreamResponse:
        self._count("sfctm2", request)
        fault = self._take_fault("sfctm2")
        answered = await self._common_fault(request, fault)
        if answered is not None:
            return answered
        if request.query.get("tm"):
            await self._delay(fault.past_hour_latency_s)
        stn = request.query.get("stn", "")
        parts = [p for p in stn.split(":") if p.strip()]
        if not parts or parts == ["0"]:
            ids = list(self.stations) or [108]
        elif all(p.isdigit() for p in parts):
            ids = [int(p) for p in parts]
        else:
            ids = []
        rows = [] if fault.kind == "empty" else self.rows(ids, self.hour_of(request), fault)
        body = format_frame(rows)
        if fault.crlf:
            body = body.replace(b"\n", b"\r\n")
        if fault.kind == "truncate":
            body = body[: body.rindex(END.encode())]
            body = body[: max(len(body) - 60, body.index(b"\n") + 1)]
        if fault.kind == "disconnect":
            return await self.disconnect(request, body)
        return web.Response(body=body, content_type="text/plain", charset="euc-kr")

    async def _ultra_ncst(self, request: web.Request) -> web.StreamResponse:
        self._count("ultra_ncst", request)
        fault = self._take_fault("ultra_ncst")
        answered = await self._common_fault(request, fault) or await self._gateway_fault(fault)
        if answered is not None:
            return answered
        q = request.query
        try:
            stamp = q.get("base_date", "") + q.get("base_time", "")
            base = datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=KST)
            nx, ny = int(q.get("nx", "")), int(q.get("ny", ""))
        except ValueError:
            return ncst_envelope("10", "INVALID_REQUEST_PARAMETER_ERROR", [])
        now = self.clock()
        if base > now:
            return ncst_envelope("03", "NO_DATA", [])
        if base < now - timedelta(days=1):
            return ncst_envelope("10", "최근 1일 간의 자료만 제공합니다.", [])
        station = next((s for s in self.stations.values() if (s.nx, s.ny) == (nx, ny)), None)
        if station is not None and station.id in fault.missing:
            return ncst_envelope("03", "NO_DATA", [])
        items = ncst_items(station or self.station(999), base, nx, ny)
        overrides = fault.values.get(station.id if station else 0, {})
        for item in items:
            if item["category"] in overrides:
                item["obsrValue"] = _token(overrides[item["category"]])
            if station is not None and station.id in fault.sentinels and item["category"] == "T1H":
                item["obsrValue"] = "-999"
        if fault.kind == "disconnect":
            return await self.disconnect(request, json.dumps(items).encode())
        return ncst_envelope("00", "NORMAL_SERVICE", items)

    async def _wrn_now(self, request: web.Request) -> web.StreamResponse:
        self._count("wrn_now", request)
        fault = self._take_fault("wrn_now")
        answered = await self._common_fault(request, fault)
        if answered is not None:
            return answered
        with self._lock:
            rows = [] if fault.kind == "empty" else list(self.warnings)
        body = wrn_now_body(rows, self.clock(), crlf=fault.crlf)
        if fault.kind == "truncate":
            body = body[: max(len(body) - 40, 1)]  # cut inside the last line
        if fault.kind == "disconnect":
            return await self.disconnect(request, body)
        return web.Response(body=body, content_type="text/plain", charset="euc-kr")

    async def _gateway_fault(self, fault: Fault) -> web.Response | None:
        """The data.go.kr gateway's answers (typ02 endpoints); None to go on to data."""
        if fault.kind == "gateway_auth":
            return gateway_error_xml(30, "SERVICE_KEY_IS_NOT_REGISTERED_ERROR", fault.status or 200)
        if fault.kind == "gateway_quota":
            return gateway_error_xml(
                22, "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR", fault.status or 200
            )
        if fault.kind == "gateway_json":
            return gateway_error_json(30, "SERVICE_KEY_IS_NOT_REGISTERED_ERROR", fault.status or 403)
        if fault.kind == "no_data":
            return ncst_envelope("03", "NO_DATA", [])
        return None

    async def _aws_min(self, request: web.Request) -> web.StreamResponse:
        self._count("aws_min", request)
        fault = self._take_fault("aws_min")
        answered = await self._common_fault(request, fault)
        return answered or await minute_answer(self, request, fault)

    async def _wrn_reg(self, request: web.Request) -> web.StreamResponse:
        self._count("wrn_reg", request)
        fault = self._take_fault("wrn_reg")
        answered = await self._common_fault(request, fault)
        if answered is not None:
            return answered
        body = wrn_reg_body(packaged_regions().regions)
        return web.Response(body=body, content_type="text/plain", charset="euc-kr")

    async def _post_warnings(self, request: web.Request) -> web.Response:
        try:
            raw = json.loads(await request.read())
            rows = self.set_warnings(raw if isinstance(raw, list) else [])
        except (ValueError, ValidationError) as err:
            return web.json_response({"error": f"expected a list of rows: {type(err).__name__}"}, status=400)
        return web.json_response({"warnings": [r.model_dump() for r in rows]})

    async def _ultra_fcst(self, request: web.Request) -> web.StreamResponse:
        self._count("ultra_fcst", request)
        fault = self._take_fault("ultra_fcst")
        answered = await self._common_fault(request, fault) or await self._gateway_fault(fault)
        return answered or fcst_answer(self, request, fault)

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            fault = Fault.model_validate_json(await request.read())
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return web.json_response({"error": f"{where}: {first['msg']}"}, status=400)
        self.set_fault(fault)
        return web.json_response(fault.model_dump())

    async def _delete_fault(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response({"faults": {}})

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response(self.stats())


@contextlib.contextmanager
def running_in_thread(fake: FakeApiHub, port: int = 0) -> Iterator[str]:
    """Serve ``fake`` from a background thread (for blocking tests and scripts); yield its URL."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    thread = threading.Thread(target=loop.run_forever, name="fake-apihub", daemon=True)
    thread.start()
    try:
        url = asyncio.run_coroutine_threadsafe(fake.start(port=port), loop).result(timeout=30)
        started.set()
        yield url
    finally:
        if started.is_set():
            asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ticker.testing.fake_upstream", description="A fake KMA API Hub on 127.0.0.1"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--key", help="the only authKey accepted (default: any)")
    parser.add_argument("--stations", type=Path, help="stations file (default: as the ticker finds it)")
    parser.add_argument("--at", help="pin the clock, ISO 8601 (e.g. 2025-07-28T15:05+09:00)")
    parser.add_argument("--fault", action="append", default=[], help="a fault as JSON, repeatable")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ticker.config import Settings
    from ticker.stations import load_stations

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    path = args.stations or Settings(_env_file=None).stations_path()
    clock = None
    if args.at:
        pinned = datetime.fromisoformat(args.at)
        if pinned.tzinfo is None:
            pinned = pinned.replace(tzinfo=KST)
        clock = lambda: pinned  # noqa: E731
    fake = FakeApiHub(stations=load_stations(path), auth_key=args.key, clock=clock)
    for text in args.fault:
        fake.set_fault(Fault.model_validate_json(text))

    async def serve() -> None:
        url = await fake.start(args.host, args.port)
        logger.info("fake API Hub on %s (TICKER_KMA_BASE_URL=%s)", url, url)
        try:
            await asyncio.Event().wait()
        finally:
            await fake.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
