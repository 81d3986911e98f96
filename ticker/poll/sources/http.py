"""What every upstream client shares: one-line texts, bounded reads, transport-error translation."""

from __future__ import annotations

import re

import aiohttp

from ticker.errors import (
    UpstreamConnectionError,
    UpstreamError,
    UpstreamParseError,
    UpstreamTimeoutError,
)

MAX_BODY_BYTES = 2 * 1024 * 1024  # a full sfctm2 frame for every ASOS station is ~25 KiB
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str, limit: int = 160) -> str:
    """Upstream text made safe for one log line: no control characters, bounded length."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def read_limited(resp: aiohttp.ClientResponse, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or a parse error when it is larger than any real answer."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            msg = f"answer larger than {limit} bytes"
            raise UpstreamParseError(msg, status=resp.status)
        chunks.append(chunk)
    return b"".join(chunks)


async def get(
    session: aiohttp.ClientSession,
    url: str,
    params: dict[str, str],
    *,
    limits: aiohttp.ClientTimeout,
    where: str,
) -> tuple[int, str, bytes]:
    """One bounded GET: status, content type and body, or the transport failure translated."""
    failure: UpstreamError | None = None
    try:
        async with session.get(url, params=params, timeout=limits) as resp:
            return resp.status, resp.content_type, await read_limited(resp)
    except UpstreamError:
        raise
    except (TimeoutError, aiohttp.ClientError, OSError) as err:
        failure = transport_error(err, where, limits.sock_read)
    # Raised outside the handler: aiohttp's error, which may quote the URL, is not kept.
    raise failure


def transport_error(err: BaseException, where: str, timeout_s: float | None) -> UpstreamError:
    """Translate an aiohttp/socket failure into the hierarchy; the text never carries the URL."""
    # aiohttp's own messages may quote the request URL, key included: only the class name is kept.
    if isinstance(err, TimeoutError):
        within = f" within {timeout_s:g}s" if timeout_s else ""
        return UpstreamTimeoutError(f"no answer from {where}{within}")
    if isinstance(err, aiohttp.ClientPayloadError):
        return UpstreamConnectionError(f"connection to {where} broke mid-answer")
    return UpstreamConnectionError(f"cannot reach {where} ({type(err).__name__})")
