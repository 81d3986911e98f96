"""The small error hierarchy of the service."""

from __future__ import annotations


class TickerError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(TickerError):
    """Configuration that cannot be used; the message names file, line and field."""


class StoreError(TickerError):
    """Redis could not be reached or answered in a way we cannot use."""


class StoreRefusedError(StoreError):
    """Redis is reachable but refuses to take writes (or us): out of memory, a read-only replica,
    wrong credentials. ``reason`` says which, in a few words, and never carries a secret."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class UpstreamError(TickerError):
    """An upstream answered with something other than data.

    ``kind`` is a short, stable class name used in metrics, freshness and logs.
    """

    kind = "upstream"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UpstreamAuthError(UpstreamError):
    """The key is missing, unknown or not allowed for this API (401)."""

    kind = "auth"


class UpstreamForbiddenError(UpstreamError):
    """The API was not applied for, or the path is not served (403)."""

    kind = "forbidden"


class UpstreamQuotaError(UpstreamError):
    """The call quota is used up (403 with a quota message, 429)."""

    kind = "quota"


class UpstreamMaintenanceError(UpstreamError):
    """An HTML maintenance or gateway page instead of data."""

    kind = "maintenance"


class UpstreamStatusError(UpstreamError):
    """Any other unexpected HTTP status."""

    kind = "status"


class UpstreamTimeoutError(UpstreamError):
    """The upstream did not answer in time."""

    kind = "timeout"


class UpstreamConnectionError(UpstreamError):
    """The upstream could not be reached."""

    kind = "connection"


class UpstreamParseError(UpstreamError):
    """The body was not a complete, well-formed answer."""

    kind = "parse"


class UpstreamNoDataError(UpstreamError):
    """A well-formed answer that carries no rows for the stations asked."""

    kind = "no_data"
