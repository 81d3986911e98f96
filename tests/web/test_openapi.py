"""The OpenAPI document: it covers every route, and schemathesis finds nothing against a live service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.support.fleet import get
from tests.support.helpers import wait_until
from tests.support.ports import free_port
from ticker.app import create_app
from ticker.embedded import start_redis_server, stop_redis_server
from ticker.web.openapi import build_openapi
from ticker.web.scripts import load_embed_js, pinned_script


async def test_every_route_is_documented(aiohttp_client, settings, stations, store):
    app = create_app(settings, stations=stations, redis=store.redis, role="web")
    client = await aiohttp_client(app)
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    doc = json.loads(await resp.text())
    routes = {r.resource.canonical for r in app.router.routes() if r.method == "GET" and r.resource}
    assert routes == set(doc["paths"])
    assert doc == build_openapi([s.id for s in stations], pinned_script(load_embed_js(len(stations))).path)
    schemas = doc["components"]["schemas"]
    assert {"ObservationsDocument", "StationObservation", "ErrorDocument", "FreshnessReport"} <= set(schemas)


def test_schemathesis_finds_nothing_against_the_live_service(tmp_path: Path):
    redis_port, port = free_port(), free_port()
    redis_proc = start_redis_server(port=redis_port, data_dir=None)
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")} | {
        "TICKER_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "TICKER_SOURCE": "sim",
        "TICKER_PORT": str(port),
        "TICKER_STATIONS_FILE": str(ROOT / "stations.yaml"),
    }
    service = subprocess.Popen(
        [sys.executable, "-m", "ticker", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: get(base + "/v1/stations/108")[0] == 200, timeout=30, what="the service")
        cli = Path(sys.executable).with_name("schemathesis")
        run = subprocess.run(
            [
                str(cli),
                "run",
                f"{base}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "40",
                "--seed",
                "20251125",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={k: v for k, v in os.environ.items() if not k.startswith("TICKER_")},
        )
    finally:
        service.terminate()
        service.wait(15)
        stop_redis_server(redis_proc)
    summary = [line for line in run.stdout.splitlines() if "generated" in line or "issues" in line]
    print("\nschemathesis:", " | ".join(s.strip() for s in summary))
    assert run.returncode == 0, run.stdout[-4000:]
    assert "No issues found" in run.stdout
