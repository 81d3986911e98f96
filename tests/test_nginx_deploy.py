"""deploy/nginx/ in a real nginx in front of the ticker: the SSI article shows the ticker, and the
proxy cache keeps serving it, fresh and then stale, once the ticker is gone."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from aiohttp import ClientSession, ClientTimeout
from multidict import CIMultiDict

from tests.conftest import ROOT
from tests.support.helpers import front_door_server, parse_widget, poll_sim, wait_for, web_app
from tests.support.ports import free_port
from ticker.config import Settings

DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MIME_TYPES = Path("/etc/nginx/mime.types")
BROWSER = {"Accept-Encoding": "gzip, deflate, br", "Accept": "text/html"}

pytestmark = pytest.mark.timeout(120)


def nginx_config(tmp: Path, port: int, ticker_port: int) -> Path:
    """A runnable nginx.conf around deploy/nginx/ticker.conf and the compose file's upstream."""
    site = (DEPLOY / "nginx" / "ticker.conf").read_text()
    for old, new in {
        "listen 80;": f"listen 127.0.0.1:{port};",
        "/var/cache/nginx/ticker": str(tmp / "cache"),
        "root /usr/share/ticker-demo;": f"root {tmp / 'www'};",
    }.items():
        assert old in site, f"deploy/nginx/ticker.conf changed: update this test ({old!r})"
        site = site.replace(old, new)
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    upstream = compose["configs"]["ticker-upstream"]["content"]
    assert "server web:8080" in upstream
    upstream = upstream.replace("web:8080", f"127.0.0.1:{ticker_port}")
    (tmp / "www").mkdir()
    shutil.copy(DEPLOY / "nginx" / "article.html", tmp / "www" / "article.html")
    temp = " ".join(
        f"{kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""{"user root;" if os.geteuid() == 0 else ""}
daemon off;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
  include {MIME_TYPES};
  default_type application/octet-stream;
  access_log off;
  {temp}
{upstream}
{site}
}}
"""
    )
    return conf


async def test_article_includes_the_ticker_and_the_cache_outlives_it(
    settings: Settings, stations, store, clock, tmp_path
):
    assert Path(NGINX).exists() and MIME_TYPES.exists(), "nginx is needed: apt-get install -y nginx"
    # A 20 s poll interval makes the widget fresh for 10 s (max-age = P/2), so the stale phase
    # below comes after a 10 s wait rather than the default 30 min.
    settings = settings.model_copy(update={"poll_interval_s": 20})
    await poll_sim(stations, store, clock)
    ticker = front_door_server(web_app(settings, stations, store, clock))
    await ticker.start_server()
    port = free_port()
    conf = nginx_config(tmp_path, port, ticker.port)
    # -e: the error log from the start, before the config is read (the default path may not be writable).
    args = [NGINX, "-c", str(conf), "-e", str(tmp_path / "error.log")]
    check = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen(args, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    names = [s.name for s in stations]
    try:
        async with ClientSession(timeout=ClientTimeout(total=10), headers=BROWSER) as http:

            async def get(path: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
                async with http.get(base + path, headers=headers) as resp:
                    return resp.status, resp.headers.copy(), await resp.read()

            async def nginx_up() -> bool:
                try:
                    return (await get("/article.html"))[0] == 200
                except OSError:
                    return False

            await wait_for(nginx_up, timeout=20, what="nginx to answer")
            async with http.get(ticker.make_url("/widget")) as resp:
                widget = await resp.read()

            def shows_the_ticker(article: bytes) -> None:
                page = parse_widget(article.decode())
                assert [s["name"] for s in page.stations] == names
                assert page.attribution.strip() == "모의 데이터 · 실제 날씨 아님"  # the sim source

            # A browser asks for the article with gzip: the included widget is plain HTML in it.
            status, headers, article = await get("/article.html")
            assert status == 200 and headers["Content-Type"].startswith("text/html")
            shows_the_ticker(article)
            assert b"<!--#" not in article and b"\x1f\x8b" not in article

            # Direct requests: from the ticker once, then from the cache; gzip still comes through.
            statuses = []
            for _ in range(2):
                status, headers, body = await get("/widget")
                assert status == 200 and body == widget
                statuses.append(headers["X-Cache-Status"])
            assert statuses[-1] == "HIT", statuses
            async with http.get(base + "/widget", auto_decompress=False) as resp:
                assert resp.headers["Content-Encoding"] == "gzip"
            status, headers, _ = await get("/widget", **{"If-None-Match": headers["ETag"]})
            assert status == 304

            # Only the public routes go through: monitoring stays on the ticker's own port.
            for private in ("/v1/freshness", "/status", "/metrics", "/readyz", "/healthz", "/v1/freshness?x"):
                status, headers, body = await get(private)
                assert status == 404 and b"lease" not in body and b"ticker_" not in body, private
            for public in ("/v1/observations", "/v1/stations/108", "/widget/frame", "/embed.js"):
                assert (await get(public))[0] == 200, public
            # Equivalent URLs are one cache entry: reordered or padded, the second is a HIT.
            first = await get("/widget?lang=en&theme=dark")
            assert first[0] == 200 and first[1]["X-Cache-Status"] == "MISS"
            for same in (
                "/widget?theme=dark&lang=en",
                "/widget?theme=dark&lang=en&x=1",
                "/widget?lang=en&theme=dark&",
            ):
                status, headers, body = await get(same)
                assert (status, headers["X-Cache-Status"], body) == (200, "HIT", first[2]), same

            await ticker.close()  # the ticker is gone

            status, headers, body = await get("/widget")
            assert (status, headers["X-Cache-Status"], body) == (200, "HIT", widget)
            shows_the_ticker((await get("/article.html"))[2])

            async def served_stale() -> bool:
                status, headers, body = await get("/widget")
                assert status == 200 and body == widget
                return headers["X-Cache-Status"] in ("STALE", "UPDATING")

            await wait_for(served_stale, timeout=40, what="nginx to serve the expired widget")
            shows_the_ticker((await get("/article.html"))[2])
    finally:
        await ticker.close()
        nginx.terminate()
        try:
            _, err = nginx.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            _, err = nginx.communicate()
    log = (tmp_path / "error.log").read_text() + err.decode()
    assert "[emerg]" not in log and "[crit]" not in log, log
