"""Ports for servers the tests start, safe when test workers run side by side.

``ticker.embedded.free_port`` asks the kernel for a port, closes it and hands the number on;
the server that is to use it binds it a moment later. With one test process that is safe. With
several (``pytest -n``), another worker's server can take the number in that moment. So under
pytest-xdist each worker draws from its own block of ports below the kernel's ephemeral range
(from which the kernel picks for ``bind(("", 0))`` and for outgoing connections), and checks each
port is free before handing it out.
"""

from __future__ import annotations

import itertools
import os
import socket

from ticker.embedded import free_port as _kernel_port

BLOCK = 2_000
FIRST = 12_000  # blocks 12000-13999, 14000-15999, ... stay under the ephemeral range's 32768


def _worker() -> int | None:
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else None


_WORKER = _worker()
_NEXT = (
    None
    if _WORKER is None
    else itertools.cycle(range(FIRST + _WORKER * BLOCK, FIRST + (_WORKER + 1) * BLOCK))
)


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
