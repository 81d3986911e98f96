"""Ports for servers the tests start, safe when test workers run side by side.

``ticker.embedded.free_port`` asks the kernel for a port, closes it and hands the number on;
the server that is to use it binds it a moment later. With one test process that is safe. With
several (``pytest -n``), another worker's server can take the number in that moment. So under
pytest-xdist each worker draws from its own block of ports outside the kernel's ephemeral range
(from which the kernel picks for ``bind(("", 0))`` and for outgoing connections), and checks each
port is free before handing it out.
"""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

from ticker.embedded import free_port as _kernel_port

BLOCK = 2_000
FIRST = 12_000  # blocks 12000-13999, 14000-15999, ... under Linux's default range (32768-60999)


def _worker() -> int | None:
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else None


def _ephemeral() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _block(worker: int | None) -> range | None:
    """This worker's ports: below the ephemeral range, else above it, else none (kernel ports)."""
    if worker is None:
        return None
    low, high = _ephemeral()
    for first, limit in ((FIRST, low), (max(FIRST, high + 1), 65536)):
        start = first + worker * BLOCK
        if start + BLOCK <= limit:
            return range(start, start + BLOCK)
    return None


_BLOCK = _block(_worker())
_NEXT = None if _BLOCK is None else itertools.cycle(_BLOCK)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on and no other test worker hands out."""
    if _NEXT is None:
        return _kernel_port()
    for _ in range(BLOCK):
        port = next(_NEXT)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    msg = f"no free port in this worker's block of {BLOCK}"
    raise RuntimeError(msg)
