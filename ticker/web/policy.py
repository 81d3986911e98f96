"""The caching and embedding policy: which headers each kind of answer carries."""

from __future__ import annotations

import re

from ticker.config import Settings
from ticker.errors import ConfigError
from ticker.web.render import style_hashes

_ANCESTOR = re.compile(
    r"^(\*|'self'|'none'|[a-z][a-z0-9+.-]*:|([a-z][a-z0-9+.-]*://)?(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:([0-9]{1,5}|\*))?)$",
    re.IGNORECASE,
)


def check_frame_ancestors(value: str) -> str:
    """The CSP frame-ancestors source list from configuration, or ConfigError."""
    tokens = value.split()
    if not tokens or any(not _ANCESTOR.match(t) for t in tokens):
        msg = "TICKER_FRAME_ANCESTORS: expected CSP sources such as '*' or 'https://news.example'"
        raise ConfigError(msg)
    if "'none'" in tokens and len(tokens) > 1:
        msg = "TICKER_FRAME_ANCESTORS: 'none' cannot be combined with other sources"
        raise ConfigError(msg)
    return " ".join(tokens)


# ---------------------------------------------------------------------------------------------
# Headers


class Policy:
    """The header sets of each kind of answer, fixed from the settings at start-up."""

    def __init__(self, settings: Settings) -> None:
        period = int(settings.effective_poll_interval_s)
        max_age = self.max_age = max(10, period // 2)
        stale_if_error = max(period, settings.hard_max_age_s - period)
        # Never s-maxage: it implies proxy-revalidate, and shared caches would stop serving stale.
        self.cache_control = (
            f"public, max-age={max_age}, stale-while-revalidate={period}, stale-if-error={stale_if_error}"
        )
        self.script_cache_control = (
            "public, max-age=3600, stale-while-revalidate=86400, stale-if-error=604800"
        )
        self.frame_ancestors = check_frame_ancestors(settings.frame_ancestors)
        base = {"Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
        # Read from any origin, without credentials; scripts there may also read the validator
        # and the age (not CORS-safelisted headers) to revalidate and to show how old data is.
        cors = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag, Date, Age"}
        self._embeddable = {
            **base,
            "Cache-Control": self.cache_control,
            **cors,
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        self.json = {
            **self._embeddable,
            "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
            "X-Frame-Options": "DENY",
        }
        # Plain text and the SVG picture: read or shown anywhere, never framed, nothing active.
        self.inert = self.json
        self.script = {**self._embeddable, "Cache-Control": self.script_cache_control}
        # Content-addressed: these bytes never change under this URL.
        self.pinned_script = {
            **self._embeddable,
            "Cache-Control": "public, max-age=31536000, immutable",
        }
        self.fragment = {**base, "Cache-Control": self.cache_control, **cors}
        self.demo = {
            **base,
            "Cache-Control": self.cache_control,
            "Content-Security-Policy": "frame-ancestors 'none'",
            "X-Frame-Options": "DENY",
        }

    def builder(self, html: str) -> dict[str, str]:
        """Headers of the builder page: its own script and hashed styles only, never framed."""
        styles = " ".join(style_hashes(html)) or "'none'"
        csp = (
            f"default-src 'none'; script-src 'self'; style-src {styles}; img-src data:; "
            "frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        return {
            **self.demo,
            "Content-Security-Policy": csp,
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
        }

    def embeddable(self, html: str) -> dict[str, str]:
        """Headers of an embeddable page: a hash-based CSP and no X-Frame-Options."""
        styles = " ".join(style_hashes(html)) or "'none'"
        csp = (
            f"default-src 'none'; style-src {styles}; img-src data:; base-uri 'none'; "
            f"form-action 'none'; frame-ancestors {self.frame_ancestors}"
        )
        return {
            **self._embeddable,
            "Content-Security-Policy": csp,
            "Referrer-Policy": "strict-origin",
        }
