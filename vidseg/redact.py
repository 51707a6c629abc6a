"""The one place that removes credentials from URLs and from text that may quote them.

Everything that logs, raises, publishes or saves a URL (Redis, RTSP, HTTP, ...) or a library's
error message that may quote one passes it through :func:`redact_url` or :func:`redact_text`:

- the user info of a URL (``rtsp://user:secret@host`` -> ``rtsp://***@host``);
- the values of query parameters that carry secrets (``password``, ``passwd``, ``pwd``, ``pass``,
  ``token``, ``access_token``, ``auth``, ``key``, ``api_key``, ``apikey``, ``secret``,
  ``signature``, ``sig``; any case) -> ``password=***``.

Example:
    >>> redact_url("redis://:hunter2@cache:6379/0?password=hunter2")
    'redis://***@cache:6379/0?password=***'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

MASK = "***"

_SECRET_PARAMS = (
    "password", "passwd", "pwd", "pass", "token", "access_token", "auth", "key", "api_key", "apikey", "secret",
    "signature", "sig",
)  # fmt: skip
# In a URL alone a secret's value runs to the next '&' (a '#', quote or space in it is taken as
# part of it, which at worst hides a fragment too); in free text also to a quote or a space,
# which delimit URLs there.
_PARAM_URL = re.compile(r"(?i)(?<![A-Za-z0-9_])(" + "|".join(_SECRET_PARAMS) + r")=([^&]*)")
_PARAM = re.compile(r"(?i)(?<![A-Za-z0-9_])(" + "|".join(_SECRET_PARAMS) + r")=([^&\s'\"]*)")
# scheme://userinfo@ : the user info ends at the last '@' before the host (passwords may hold '@').
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/\s'\"?#]*)@")


def redact_url(url: str) -> str:
    """``url`` without credentials: everything between ``scheme://`` and the last ``@`` (a
    password may hold ``@``, ``#``, ``/``, ``?`` or spaces unencoded) and secret query values
    are replaced by ``***``; the rest is kept character for character."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        rest = f"{MASK}@{rest.rpartition('@')[2]}"
    return _PARAM_URL.sub(lambda m: f"{m.group(1)}={MASK}", f"{scheme}{sep}{rest}" if sep else url)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the credentials of every URL in it removed, and every string of ``secrets``
    (e.g. the password of the URL a library error quotes) replaced by ``***``."""
    out = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    out = _PARAM.sub(lambda m: f"{m.group(1)}={MASK}", out)
    for secret in secrets:
        if secret:
            out = out.replace(secret, MASK)
    return out


def url_secrets(url: str) -> tuple[str, ...]:
    """The secret parts of ``url`` (the password, raw and percent-decoded; a user name of 4 or
    more characters; secret query values), to hand to :func:`redact_text` for text that may
    quote them in another form (a library's error message)."""
    found: list[str] = []
    _, sep, rest = url.partition("://")
    if sep and "@" in rest:
        userinfo = rest.rpartition("@")[0]
        user, colon, password = userinfo.partition(":")
        if colon and password:
            found += [password, unquote(password)]
        if len(user) >= 4:  # a short user name would blank out common text
            found += [user, unquote(user)]
    found += [m.group(2) for m in _PARAM_URL.finditer(url) if m.group(2)]
    found += [unquote(m.group(2)) for m in _PARAM_URL.finditer(url) if m.group(2)]
    return tuple(sorted({f for f in found if f}, key=len, reverse=True))  # longest first: no partial replacement
