"""Command line: ticker serve | poll --once | check | doctor."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import socket
import sys
from collections.abc import Sequence

from aiohttp import web
from pydantic import SecretStr, ValidationError

from ticker import __version__
from ticker.app import create_app
from ticker.commands import check, doctor, poll_once, preflight, redis_url
from ticker.config import Settings
from ticker.errors import ConfigError
from ticker.logs import setup_logging
from ticker.models import Station
from ticker.stations import load_stations
from ticker.workers import HANDLER_GRACE_S, run, serve_workers

logger = logging.getLogger("ticker")

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticker", description="Regional weather ticker service")
    parser.add_argument("--version", action="version", version=f"ticker {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service (web and poller)")
    serve.add_argument("--host", help="listen address (TICKER_HOST)")
    serve.add_argument("--port", type=int, help="listen port (TICKER_PORT)")
    serve.add_argument("--role", choices=["all", "web", "poller"], help="what this process runs")
    serve.add_argument("--workers", type=int, help="web worker processes (TICKER_WORKERS)")

    poll = sub.add_parser("poll", help="poll the source")
    poll.add_argument("--once", action="store_true", required=True, help="run one cycle and exit")

    sub.add_parser("check", help="freshness check for monitors: exit 0 ok, 1 warning, 2 critical")
    sub.add_parser(
        "doctor",
        help="ask each upstream API once with the configured key; check Redis, stations and settings",
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        k: v
        for k, v in {
            "host": getattr(args, "host", None),
            "port": getattr(args, "port", None),
            "role": getattr(args, "role", None),
            "workers": getattr(args, "workers", None),
        }.items()
        if v is not None
    }
    return Settings(**overrides)


def _settings_error(err: ValidationError) -> str:
    first = err.errors(include_url=False)[0]
    field = ".".join(str(p) for p in first["loc"])
    return f"configuration: TICKER_{field.upper()}: {str(first['msg']).removeprefix('Value error, ')}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as err:
        print(f"ticker: {_settings_error(err)}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(settings.log_level, settings.log_format)
    if args.command == "doctor":
        return asyncio.run(doctor(settings))
    try:
        stations = load_stations(settings.stations_path())
    except ConfigError as err:
        print(f"ticker: {err}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        if args.command == "serve":
            return serve(settings, stations)
        if args.command == "poll":
            return asyncio.run(poll_once(settings, stations))
        return asyncio.run(check(settings, stations))
    except ConfigError as err:
        print(f"ticker: {err}", file=sys.stderr)
        return EXIT_CONFIG


def bind(settings: Settings, *, reuse_port: bool = False) -> socket.socket:
    """The listening socket, or ConfigError naming TICKER_HOST or TICKER_PORT."""
    try:
        infos = socket.getaddrinfo(
            settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (socket.gaierror, UnicodeError) as err:
        reason = err.strerror if isinstance(err, socket.gaierror) else "not a valid host name"
        msg = f"TICKER_HOST: cannot listen on {settings.host!r}: {reason}"
        raise ConfigError(msg) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(512)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            msg = f"TICKER_PORT: {settings.host}:{settings.port} is already in use by another process"
        elif err.errno == errno.EADDRNOTAVAIL:
            msg = f"TICKER_HOST: {settings.host} is not an address of this machine"
        elif err.errno == errno.EACCES:
            msg = f"TICKER_PORT: no permission to listen on port {settings.port}"
        else:
            msg = f"TICKER_HOST/TICKER_PORT: cannot listen on {settings.host}:{settings.port}: {err.strerror}"
        raise ConfigError(msg) from None
    sock.setblocking(False)
    return sock


def serve(settings: Settings, stations: list[Station]) -> int:
    """Run the service until SIGINT/SIGTERM, then stop gracefully within 10 s.

    Every setting is checked and the port bound before anything starts or says it runs. On the
    signal aiohttp closes the listener and idle connections; the poller stops and hands the lease
    over (``on_shutdown``); requests in flight get up to HANDLER_GRACE_S to finish; then every
    resource closes in reverse order of opening.
    """
    preflight(settings)
    workers = settings.workers > 1 and settings.role != "poller"
    sock = bind(settings, reuse_port=workers)
    port = sock.getsockname()[1]
    if workers:
        sock.close()  # each worker binds the port itself; this one only proved it is free
    try:
        with redis_url(settings) as url:
            settings = settings.model_copy(update={"redis_url": _secret(url)})
            simulated = " - simulated data, not real weather" if settings.effective_source == "sim" else ""
            logger.info(
                "ticker %s on http://%s:%s (role %s, source %s%s)",
                __version__,
                settings.host,
                port,
                settings.role,
                settings.effective_source,
                simulated,
            )
            if workers:
                return serve_workers(settings, stations)
            app = create_app(settings, stations=stations)
            app.on_shutdown.append(_log_shutdown)
            run(app, settings, shutdown_timeout=HANDLER_GRACE_S, sock=sock)
    finally:
        sock.close()
    logger.info("stopped")
    return 0


async def _log_shutdown(app: web.Application) -> None:
    logger.info("shutting down: listener closed; finishing requests in flight")


def _secret(url: str) -> object:
    return SecretStr(url)
