"""HTTP/1.1 answers as bytes, for the front door to write straight to a connection.

A rendered variant carries the head of each of its answers (status line and every header but
Date and Server) serialized once; sending one is the head, the current Date block and the body.
The bytes are the ones aiohttp would send for the same response: same headers, same order.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import formatdate
from http import HTTPStatus

from aiohttp.http import SERVER_SOFTWARE

_FORBIDDEN = ("\r", "\n", "\0")


def head(status: int, headers: Mapping[str, str], content_length: int | None) -> bytes:
    """Status line and headers, then Content-Length when the answer has a body."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    for name, value in headers.items():
        if any(c in name or c in value for c in _FORBIDDEN):
            msg = f"header {name!r} has a line break or NUL"
            raise ValueError(msg)
        lines.append(f"{name}: {value}")
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    return ("\r\n".join(lines) + "\r\n").encode()


class DateBlock:
    """The last header lines of every answer: Date (changes once a second) and Server."""

    __slots__ = ("_block", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._block = b""

    def __call__(self) -> bytes:
        second = int(time.time())
        if second != self._second:
            self._second = second
            date = formatdate(second, usegmt=True)
            self._block = f"Date: {date}\r\nServer: {SERVER_SOFTWARE}\r\n\r\n".encode()
        return self._block
