"""The fake Hub's warning feeds: EUC-KR bodies in the captured layouts, rows scripted over HTTP."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime

from tests.conftest import ROOT
from tests.testing.test_fake_upstream import _call
from ticker.poll.sources.wrn_text import parse_wrn_now
from ticker.regions import KST, packaged_regions
from ticker.testing.fake_upstream import FakeApiHub, running_in_thread
from ticker.testing.fake_warnings import wrn_reg_body

CAPTURED_REG = ROOT / "tests" / "fixtures" / "wrn_reg_capture_lines.utf8.txt"


def _get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (http on 127.0.0.1)
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("Content-Type", "")


def test_wrn_reg_lines_are_the_captured_layout():
    """REG_KO padded to 40 EUC-KR bytes and one space, then REG_NAME (cakejin/contest_build)."""
    body = wrn_reg_body(packaged_regions().regions).decode("cp949").splitlines()
    assert body[0] == "#START7777" and body[-1] == "#7777END"
    for captured in CAPTURED_REG.read_text(encoding="utf-8").splitlines():
        assert captured in body, captured


def test_rows_scripted_over_http_and_faults(stations):
    fake = FakeApiHub(stations=stations, auth_key="k", clock=lambda: datetime(2025, 7, 28, 15, 5, tzinfo=KST))
    with running_in_thread(fake) as url:
        row = {"reg_up": "L1100000", "reg_up_ko": "서울특별시", "reg_id": "L1100400", "reg_ko": "서울서북권",
               "tm_fc": "202507281000", "tm_ef": "202507281100", "wrn": "폭염", "lvl": "경보"}  # fmt: skip
        status, doc = _call("POST", f"{url}/_fake/warnings", [row])
        assert status == 200 and doc["warnings"][0]["cmd"] == "발표"
        status, body, ctype = _get(f"{url}/api/typ01/url/wrn_now_data.php?fe=f&tm=&disp=0&help=1&authKey=k")
        assert status == 200 and "euc-kr" in ctype.lower()
        frame = parse_wrn_now(body)
        assert frame.base_time == datetime(2025, 7, 28, 15, 5, tzinfo=KST)
        assert [(r.reg_id, r.wrn, r.lvl) for r in frame.rows] == [("L1100400", "폭염", "경보")]
        assert body.rstrip().endswith(b"#7777END")
        fake.set_warnings([])
        status, body, _ = _get(f"{url}/api/typ01/url/wrn_now_data.php?fe=f&authKey=k")
        assert b"#7777END" not in body and parse_wrn_now(body).rows == ()  # as the real empty answer
        fake.set_fault(endpoint="wrn_now", kind="not_applied", times=1)
        status, body, _ = _get(f"{url}/api/typ01/url/wrn_now_data.php?fe=f&authKey=k")
        assert status == 403 and "활용신청" in json.loads(body)["result"]["message"]
        status, _, _ = _get(f"{url}/api/typ01/url/wrn_now_data.php?fe=f&authKey=wrong")
        assert status == 401
        status, body, _ = _get(f"{url}/api/typ01/url/wrn_reg.php?tmfc=0&authKey=k")
        assert status == 200 and "대구중부".encode("cp949") in body
        assert fake.stats()["requests"]["wrn_now"] == 4
