"""A small DevTools-protocol client for headless Chromium (Debian's ``chromium`` package).

It starts the browser on a fresh profile, speaks CDP over one websocket (aiohttp) and attaches
to pages with flat sessions. Enough for loading a page, reading the DOM through shadow roots and
frames, evaluating script, collecting console errors and taking screenshots.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1",
]


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    msg = "no chromium on PATH: install Debian's 'chromium' package (.ci/run does)"
    raise RuntimeError(msg)


class CDPError(Exception):
    """The browser answered a command with an error."""


class Browser:
    """One headless Chromium process and its DevTools websocket."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: dict[str | None, list[tuple[str, dict[str, Any]]]] = {}
        self._changed = asyncio.Event()

    async def start(self, timeout: float = 30.0) -> None:
        self.profile.mkdir(parents=True, exist_ok=True)
        self._log = (self.profile / "chromium.log").open("wb")
        self.proc = subprocess.Popen(
            [chromium_binary(), *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not port_file.is_file() or len(port_file.read_text().splitlines()) < 2:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port in time")
            await asyncio.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                self.closed_by = f"{msg.type!r} {msg.data!r} {msg.extra!r}"
                continue
            data = json.loads(msg.data)
            if "id" in data:
                fut = self._pending.pop(data["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(data)
            else:
                self.events.setdefault(data.get("sessionId"), []).append(
                    (data["method"], data.get("params", {}))
                )
                self._changed.set()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(CDPError("the DevTools connection closed"))
        self.closed_by = (
            getattr(self, "closed_by", None) or f"end of stream, close code {self._ws.close_code}"
        )

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        assert self._ws is not None
        if self._ws.closed or self._reader is None or self._reader.done():
            raise CDPError(
                f"DevTools connection gone: {getattr(self, 'closed_by', None)}; chromium exit {self.proc.poll() if self.proc else None}"
            )
        msg_id = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        payload: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session is not None:
            payload["sessionId"] = session
        try:
            await self._ws.send_str(json.dumps(payload))
        except aiohttp.ClientError as err:
            self._pending.pop(msg_id, None)
            raise CDPError(
                f"{method}: DevTools connection gone ({err}); {getattr(self, 'closed_by', None)}; "
                f"chromium exit {self.proc.poll() if self.proc else None}; reader done {self._reader.done() if self._reader else None}"
            ) from err
        answer = await asyncio.wait_for(fut, timeout)
        if "error" in answer:
            raise CDPError(f"{method}: {answer['error'].get('message')}")
        return dict(answer.get("result", {}))

    async def wait_event(self, session: str | None, method: str, *, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for the next ``method`` event of a session that has not been consumed yet."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (name, params) in enumerate(self.events.get(session, [])):
                if name == method:
                    del self.events[session][i]
                    return params
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} within {timeout}s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def new_page(self, width: int = 1024, height: int = 900) -> Page:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = Page(self, attached["sessionId"], target["targetId"])
        for domain in ("Page", "Runtime", "Log", "DOM", "Network"):
            await page.send(f"{domain}.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        return page

    async def close(self) -> None:
        """Close the browser; every step is bounded so a stuck browser cannot hang the suite."""
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(Exception):
                await self.send("Browser.close", timeout=5)
        if self.proc is not None:
            try:
                await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 10)
            except TimeoutError:
                self.proc.kill()
                self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 2)
        if self._http is not None:
            await self._http.close()
        if self._log is not None:
            self._log.close()


class Page:
    """One tab, addressed through its flat session."""

    def __init__(self, browser: Browser, session: str, target_id: str) -> None:
        self.browser = browser
        self.session = session
        self.target_id = target_id

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.browser.send(method, params, session=self.session)

    async def goto(self, url: str, *, timeout: float = 30.0) -> None:
        self.browser.events.pop(self.session, None)
        await self.send("Page.navigate", {"url": url})
        await self.browser.wait_event(self.session, "Page.loadEventFired", timeout=timeout)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CDPError(f"script failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    async def document(self) -> dict[str, Any]:
        """The whole DOM, through shadow roots (open or closed) and same-process frames."""
        return (await self.send("DOM.getDocument", {"depth": -1, "pierce": True}))["root"]

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        out = []
        for method, params in self.browser.events.get(self.session, []):
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                out.append(
                    f"exception: {details.get('text')} {details.get('exception', {}).get('description', '')}"
                )
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(
                    "console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                out.append(
                    f"log ({params['entry'].get('source')}): {params['entry'].get('text')} {params['entry'].get('url', '')}"
                )
        return out

    def exceptions(self) -> list[str]:
        return [e for e in self.errors() if e.startswith("exception")]

    async def screenshot(self, path: Path) -> None:
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node below ``node``, entering shadow roots and frame documents."""
    yield node
    for child in node.get("shadowRoots", []):
        yield from walk(child)
    if "contentDocument" in node:
        yield from walk(node["contentDocument"])
    for child in node.get("children", []):
        yield from walk(child)


def attr(node: dict[str, Any], name: str) -> str | None:
    values = node.get("attributes", [])
    for key, value in zip(values[::2], values[1::2], strict=True):
        if key == name:
            return str(value)
    return None


def find(root: dict[str, Any], name: str, value: str) -> dict[str, Any] | None:
    """The first node whose attribute ``name`` has ``value``."""
    return next((n for n in walk(root) if attr(n, name) == value), None)


def text(node: dict[str, Any]) -> str:
    """Visible-ish text below a node: text nodes, skipping style and script contents."""
    parts: list[str] = []

    def visit(n: dict[str, Any]) -> None:
        if n.get("nodeName") in ("STYLE", "SCRIPT"):
            return
        if n.get("nodeType") == 3:
            parts.append(n.get("nodeValue", ""))
        for child in n.get("shadowRoots", []):
            visit(child)
        if "contentDocument" in n:
            visit(n["contentDocument"])
        for child in n.get("children", []):
            visit(child)

    visit(node)
    return " ".join(" ".join(parts).split())


async def own_process_frames(browser: Browser, url_part: str = "/widget/frame") -> list[dict[str, Any]]:
    """The documents of the iframes Chromium runs in a process of their own (their DOM is not in
    the page's), for those whose URL holds ``url_part``."""
    targets = await browser.send("Target.getTargets")
    roots = []
    for frame in (t for t in targets["targetInfos"] if t["type"] == "iframe" and url_part in t["url"]):
        attached = await browser.send(
            "Target.attachToTarget", {"targetId": frame["targetId"], "flatten": True}
        )
        got = await browser.send(
            "DOM.getDocument", {"depth": -1, "pierce": True}, session=attached["sessionId"]
        )
        roots.append(got["root"])
    return roots


async def frame_text(browser: Browser, page: Page, holder_id: str) -> str:
    """Text of the iframe inside the element with id ``holder_id``, whether Chromium runs it in
    the page's process or its own; "" until it is loaded."""
    doc = await page.document()
    iframe = next((n for n in walk(find(doc, "id", holder_id) or {}) if n.get("nodeName") == "IFRAME"), None)
    if iframe is not None and "contentDocument" in iframe:
        return text(iframe["contentDocument"])
    others = await own_process_frames(browser)
    return text(others[0]) if others else ""
