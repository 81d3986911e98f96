"""Redis URLs: what redis-py reads itself, plus ``redis+sentinel://`` for a Sentinel-managed master.

    redis+sentinel://[user:password@]host[:port][,host2[:port2],...]/service_name[/db][?options]
    rediss+sentinel://...   (TLS to the data nodes and to the sentinels)

Sentinels default to port 26379. ``user:password`` authenticate to the data nodes;
``sentinel_username`` / ``sentinel_password`` options authenticate to the sentinels. Other options
are redis-py's own URL options (``socket_timeout``, ``ssl_ca_certs``, ...). Pure parsing, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from redis.asyncio.connection import URL_QUERY_ARGUMENT_PARSERS, parse_url

from ticker.errors import ConfigError

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_SENTINEL_PORT = 26379
_SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")
# redis-py URL options that take text rather than a typed value.
_TEXT_OPTIONS = (
    "client_name",
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "ssl_ca_path",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_password",
)
_USAGE = "expected redis+sentinel://[user:password@]host[:port][,host:port...]/service_name[/db]"


@dataclass(frozen=True)
class SentinelUrl:
    """Where the sentinels are, which master to ask them for, and how to talk to both."""

    sentinels: list[tuple[str, int]]
    service_name: str
    connection_kwargs: dict[str, Any] = field(default_factory=dict)
    sentinel_kwargs: dict[str, Any] = field(default_factory=dict)


def is_sentinel_url(url: str) -> bool:
    """True for a ``redis+sentinel://`` or ``rediss+sentinel://`` URL."""
    return url.split("://", 1)[0].lower() in SENTINEL_SCHEMES


def _fail(problem: str) -> ConfigError:
    return ConfigError(f"TICKER_REDIS_URL: {problem} ({_USAGE})")


def _host_port(item: str) -> tuple[str, int]:
    host, port_text = item, ""
    if item.startswith("["):  # [IPv6]:port
        end = item.find("]")
        if end < 0:
            raise _fail("unclosed '[' in a sentinel address")
        host, rest = item[1:end], item[end + 1 :]
        if rest and not rest.startswith(":"):
            raise _fail("unexpected text after a bracketed sentinel address")
        port_text = rest[1:]
    elif ":" in item:
        host, port_text = item.rsplit(":", 1)
    if not host:
        raise _fail("a sentinel address has no host")
    if not port_text:
        return unquote(host), DEFAULT_SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _fail("a sentinel port is not a number from 1 to 65535")
    return unquote(host), int(port_text)


def _options(query: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split the query into data-node options (typed by redis-py) and sentinel options."""
    data_pairs: list[str] = []
    sentinel: dict[str, Any] = {}
    for name, values in parse_qs(query, keep_blank_values=True).items():
        value = values[-1]
        if name in _SENTINEL_OPTIONS:
            sentinel[name.removeprefix("sentinel_")] = value
        elif name in URL_QUERY_ARGUMENT_PARSERS or name in _TEXT_OPTIONS:
            data_pairs.append(f"{quote(name)}={quote(value)}")
        else:
            raise _fail(f"unknown option '{name[:40]}'")
    try:
        data = dict(parse_url("redis://sentinel-managed/?" + "&".join(data_pairs)))
    except ValueError as err:
        raise _fail(str(err)) from None
    data.pop("host", None)
    return data, sentinel


def parse_sentinel_url(url: str) -> SentinelUrl:
    """Parse a ``redis+sentinel://`` URL; a bad one raises ConfigError that echoes no password."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in SENTINEL_SCHEMES:
        raise _fail("not a redis+sentinel:// URL")
    rest, _, query = rest.partition("?")
    rest = rest.split("#", 1)[0]
    netloc, _, path = rest.partition("/")
    userinfo, _, hosts = netloc.rpartition("@")
    if not hosts:
        raise _fail("no sentinel host")
    sentinels = [_host_port(item) for item in hosts.split(",") if item]
    if not sentinels:
        raise _fail("no sentinel host")
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise _fail("no service name")
    if len(parts) > 2:
        raise _fail("too many path segments")
    connection, sentinel = _options(query)
    service_name = unquote(parts[0])
    if len(parts) == 2:
        if not parts[1].isdigit():
            raise _fail("the database after the service name must be a number")
        connection.setdefault("db", int(parts[1]))
    if userinfo:
        user, has_password, password = userinfo.partition(":")
        if user:
            connection["username"] = unquote(user)
        if has_password:
            connection["password"] = unquote(password)
    if scheme.lower() == "rediss+sentinel":
        connection["ssl"] = True
        sentinel["ssl"] = True
    return SentinelUrl(
        sentinels=sentinels,
        service_name=service_name,
        connection_kwargs=connection,
        sentinel_kwargs=sentinel,
    )


def validate_redis_url(url: str) -> None:
    """ConfigError naming TICKER_REDIS_URL when no client could be built from ``url``; no I/O."""
    if is_sentinel_url(url):
        parse_sentinel_url(url)
        return
    try:
        parse_url(url)
    except ValueError:
        # redis-py's text may quote the URL, password included: it is not passed on.
        msg = "TICKER_REDIS_URL: not a usable Redis URL (expected redis://, rediss://, unix:// or redis+sentinel://)"
        raise ConfigError(msg) from None
