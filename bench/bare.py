"""The framework floor: aiohttp's low-level web.Server sending constant bytes (uvloop)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web

from ticker.workers import new_event_loop


async def serve(port: int, body: bytes) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(body=body, content_type="text/html")

    runner = web.ServerRunner(web.Server(handler))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    loop = new_event_loop()
    loop.run_until_complete(serve(int(sys.argv[1]), Path(sys.argv[2]).read_bytes()))
