"""Secrets out of every text meant for people: logs, error bodies, the ops surfaces."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "***"

_SECRET_PARAM = re.compile(r"(?i)\b(authkey|servicekey|api_?key|key|password|passwd|token)=([^&\s\"'<>]+)")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s/]+@")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every credential-shaped parameter, URL password and given secret as ***."""
    out = text
    for secret in secrets:
        if secret:
            out = out.replace(secret, REDACTED)
    out = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", out)
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{REDACTED}@", out)


def url_password(url: str) -> str | None:
    """The password in a URL's userinfo, if any."""
    _, _, rest = url.partition("://")
    userinfo = rest.split("/", 1)[0].rpartition("@")[0]
    return userinfo.partition(":")[2] or None
