"""A pre-rendered answer: the bytes, the header block serialized once, and which one a request gets.

One variant of a page (a widget, a frame, the JSON) is rendered once per data change or clock
tick. What it answers with is fixed then: a 200 with the plain body, a 200 with the gzip copy
(when compression pays off) and a 304. Each of the three is kept once, as the header mapping
a ``web.Response`` takes and as the same head serialized for writing straight to a connection.
Both the connection level (``fastpath``) and the handler levels pick through ``Rendered.pick``
and count through ``HotAnswers``, so they cannot disagree.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE

GZIP_MIN_BYTES = 512
_FORBIDDEN = ("\r", "\n", "\0")


def serialize_head(status: int, headers: Mapping[str, str], content_length: int | None) -> bytes:
    """Status line and headers, then Content-Length when the answer has a body (no Date/Server)."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    for name, value in headers.items():
        if any(c in name or c in value for c in _FORBIDDEN):
            msg = f"header {name!r} has a line break or NUL"
            raise ValueError(msg)
        lines.append(f"{name}: {value}")
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass(frozen=True, slots=True)
class Answer:
    """One way of answering: status, headers (as a mapping and serialized once) and body."""

    status: int
    headers: Mapping[str, str]
    head: bytes  # status line and headers up to, not including, Date and Server
    body: bytes

    @classmethod
    def build(cls, status: int, headers: Mapping[str, str], body: bytes) -> Answer:
        length = None if status == 304 else len(body)
        return cls(status, headers, serialize_head(status, headers, length), body)

    def response(self) -> web.Response:
        """The same answer through aiohttp's public API."""
        if self.status == 304:
            return web.Response(status=304, headers=self.headers)
        return web.Response(status=self.status, body=self.body, headers=self.headers)


@dataclass(frozen=True, slots=True)
class Rendered:
    """One variant, ready to send: a strong ETag and its plain, gzip and 304 answers."""

    etag: str
    content_type: str
    plain: Answer
    zipped: Answer | None
    not_modified: Answer

    @property
    def body(self) -> bytes:
        return self.plain.body

    @property
    def gzip(self) -> bytes | None:
        return None if self.zipped is None else self.zipped.body

    def pick(self, if_none_match: str | None, accept_encoding: str | None) -> Answer:
        """304 on a matching ETag, the gzip copy when the client takes it, else the plain body."""
        if if_none_match is not None and etag_matches(if_none_match, self.etag):
            return self.not_modified
        if self.zipped is not None and accept_encoding is not None and accepts_gzip(accept_encoding):
            return self.zipped
        return self.plain


def make_rendered(body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> Rendered:
    """Bytes plus a strong ETag over them, a gzip copy when it pays off, and the three answers."""
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    packed = gzip.compress(body, compresslevel=9, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    if packed is not None and len(packed) >= len(body):
        packed = None
    # A 304 carries the validator and the caching headers the 200 would have (RFC 9110 15.4.5).
    common = {**(headers or {}), "ETag": etag}
    plain = {**common, "Content-Type": content_type}
    zipped = None
    if packed is not None:
        zipped = Answer.build(200, {**plain, "Content-Encoding": "gzip"}, packed)
    return Rendered(
        etag=etag,
        content_type=content_type,
        plain=Answer.build(200, plain, body),
        zipped=zipped,
        not_modified=Answer.build(304, common, b""),
    )


@functools.lru_cache(maxsize=256)
def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding value takes gzip (q=0 refuses it)."""
    for part in header.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            q = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


def etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison: W/ prefixes are ignored."""
    if header == etag:
        return True
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def send(request: web.BaseRequest, rendered: Rendered) -> web.Response:
    """Answer a routed request with pre-rendered bytes, as ``Rendered.pick`` says."""
    headers = request.headers
    return rendered.pick(headers.get("If-None-Match"), headers.get("Accept-Encoding")).response()


class HotAnswers:
    """Finds the kept answer for a raw request path, and counts every answer it gives.

    Used by both levels that answer before routing. ``count`` takes (raw path, status) and must
    be cheap: it runs on every hit.
    """

    __slots__ = ("_count", "_lookup", "_miss", "answered")

    def __init__(
        self,
        lookup: Callable[[str], Rendered | None],
        count: Callable[[str, int], None],
        miss: Callable[[str], Answer | None] | None = None,
    ) -> None:
        self._lookup = lookup
        self._count = count
        self._miss = miss  # for a path no variant is kept for: a fixed answer (a 429), or None
        self.answered = 0  # answers given before routing (for tests and benchmarks)

    def find(self, raw_path: str, if_none_match: str | None, accept_encoding: str | None) -> Answer | None:
        """The answer for a GET of ``raw_path``, counted, or None when no variant is kept for it."""
        rendered = self._lookup(raw_path)
        if rendered is None:
            if self._miss is None:
                return None
            refusal = self._miss(raw_path)
            if refusal is not None:
                # Counted by path alone: a flood of distinct queries is one tally entry.
                self._count(raw_path.partition("?")[0], refusal.status)
                self.answered += 1
            return refusal
        answer = rendered.pick(if_none_match, accept_encoding)
        self._count(raw_path, answer.status)
        self.answered += 1
        return answer


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
