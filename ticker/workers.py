"""Serving on every core: N processes share one port (SO_REUSEPORT); uvloop when installed."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from aiohttp import web

from ticker.config import Settings
from ticker.errors import ConfigError
from ticker.metrics import MULTIPROC_ENV
from ticker.models import Station
from ticker.web.fastpath import connection_cap, is_fast, make_runner
from ticker.web.front import FrontSite

logger = logging.getLogger(__name__)

# SIGTERM to exit: requests in flight get HANDLER_GRACE_S, releasing the lease at most 2 s, and
# closing the rest is quick, so the process is gone within 10 s (Kubernetes waits 30 s by default).
HANDLER_GRACE_S = 5.0
STOP_TIMEOUT_S = 10.0
RESTART_DELAY_S = 1.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is installed (the 'fast' extra), else the standard one."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (each connection is a descriptor); return it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and (hard == resource.RLIM_INFINITY or soft < hard):
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as err:
            logger.warning("cannot raise the open-file limit from %s: %s", soft, err)
    if soft != resource.RLIM_INFINITY and soft < 4096:
        logger.warning(
            "open-file limit %d: at most %d client connections (raise LimitNOFILE / ulimit -n)",
            soft,
            max(16, soft - 100),
        )
    return int(soft)


def run(
    app: web.Application,
    settings: Settings,
    *,
    reuse_port: bool = False,
    shutdown_timeout: float = HANDLER_GRACE_S,
    sock: socket.socket | None = None,
) -> None:
    """Run one server process until SIGINT/SIGTERM, then shut down gracefully.

    The steps of ``aiohttp.web.run_app`` with the runner of ``ticker.web.fastpath`` and the public
    front (``ticker.web.front``) on the socket; on ``sock`` when given (already bound and
    listening), else on the configured host and port.
    """
    raise_fd_limit()
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    runner = make_runner(app, mode=settings.fast_path, handle_signals=True, shutdown_timeout=shutdown_timeout)

    front = FrontSite(runner, cap=connection_cap())

    async def serve() -> None:
        await runner.setup()
        if not is_fast(runner):
            logger.info("fast path off: no aiohttp internals; hot GETs answered by the public front")
        if sock is not None:
            await front.start(sock=sock)
        else:
            await front.start(settings.host, settings.port, reuse_port=reuse_port or None)
        await asyncio.Event().wait()

    try:
        loop.run_until_complete(serve())
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        loop.run_until_complete(front.stop())
        loop.run_until_complete(runner.cleanup())
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()


def roles(role: str, count: int) -> list[str]:
    """The role of each worker: one poller at most, every other worker serves only."""
    if role == "poller":
        return ["poller"]
    return [role] + ["web"] * (count - 1)


def _worker(settings: Settings, stations: Sequence[Station], role: str) -> None:  # pragma: no cover
    from ticker.app import create_app
    from ticker.logs import setup_logging

    setup_logging(settings.log_level, settings.log_format)
    app = create_app(settings, stations=stations, role=role)
    run(app, settings, reuse_port=True)


def serve_workers(settings: Settings, stations: Sequence[Station]) -> int:
    """Start ``settings.workers`` processes on one port and supervise them until told to stop."""
    if settings.port == 0:
        msg = "--workers needs a fixed --port: every worker binds the same one"
        raise ConfigError(msg)
    plan = roles(settings.role, settings.workers)
    ctx = multiprocessing.get_context("spawn")
    # Workers are separate processes: their counters must meet in one directory for /metrics to
    # add them up, whichever worker answers the scrape.
    own_metrics_dir = None
    if not os.environ.get(MULTIPROC_ENV):
        own_metrics_dir = tempfile.mkdtemp(prefix="ticker-metrics-")
        os.environ[MULTIPROC_ENV] = own_metrics_dir
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    procs: list[BaseProcess] = []
    try:
        for role in plan:
            procs.append(_start(ctx, settings, stations, role))
        logger.info("%d workers on port %s (%s)", len(procs), settings.port, loop_name())
        while not stopping:
            wait([p.sentinel for p in procs], timeout=0.5)
            for i, proc in enumerate(procs):
                if not stopping and proc.exitcode is not None:
                    logger.warning("worker %s exited with %s; restarting it", proc.pid, proc.exitcode)
                    time.sleep(RESTART_DELAY_S)
                    procs[i] = _start(ctx, settings, stations, plan[i])
    finally:
        _stop_all(procs)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if own_metrics_dir is not None:
            del os.environ[MULTIPROC_ENV]
            shutil.rmtree(own_metrics_dir, ignore_errors=True)
    return 0


def _start(
    ctx: multiprocessing.context.SpawnContext,
    settings: Settings,
    stations: Sequence[Station],
    role: str,
) -> BaseProcess:
    proc = ctx.Process(target=_worker, args=(settings, list(stations), role), daemon=False)
    proc.start()
    return proc


def _stop_all(procs: Sequence[BaseProcess]) -> None:
    for proc in procs:
        if proc.exitcode is None:
            proc.terminate()  # SIGTERM: aiohttp shuts down gracefully
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.exitcode is None:
            proc.kill()
            proc.join()
