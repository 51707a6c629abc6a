"""A live feed's credentials without putting them on the command line, where ``ps`` shows them.

Two ways, both resolved here in the sources layer so every command that opens a source has them:

- **A URL with a user name and no password** (``rtsp://admin@cam/stream1``) takes its password
  from :attr:`LiveOptions.password <vidseg.sources.live.LiveOptions>`, which the entry point
  fills from the environment variable :data:`PASSWORD_ENV` (this module never reads it).
- **``url-file:PATH``** names a file holding the whole URL, credentials included, on its first
  line that is neither blank nor a ``#`` comment. The file must be readable by its owner only
  (``chmod 600``); a file that group or others may read is refused. (The prefix is not FFmpeg's
  ``file:``, which names a local media file.)

The password, once known, lives only in the URL handed to FFmpeg: errors and logs show the URL
redacted (:mod:`vidseg.redact`), and :class:`~vidseg.sources.live.LiveOptions` keeps it out of
its ``repr`` and of the manifest.

Example:
    >>> with_password("rtsp://admin@cam/stream1", "p@ss word")
    'rtsp://admin:p%40ss%20word@cam/stream1'
"""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import quote

from vidseg.errors import ConfigError, SourceError, SourceNotFoundError

PASSWORD_ENV = "VIDSEG_SOURCE_PASSWORD"
URL_FILE_PREFIX = "url-file:"


class SourcePermissionError(SourceError, PermissionError):
    """A file holding a feed's credentials may be read by other users."""


def _split_userinfo(url: str) -> tuple[str, str | None, str] | None:
    """``(scheme://, userinfo, rest)`` of ``url``, userinfo None when it has none; None for a
    string that is not ``scheme://...``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    authority_end = len(rest)
    for mark in "/?#":  # the authority ends at the first of these after the last '@'
        at = rest.find(mark, rest.rfind("@") + 1)
        if at != -1:
            authority_end = min(authority_end, at)
    authority = rest[:authority_end]
    if "@" not in authority:
        return f"{scheme}://", None, rest
    userinfo, _, host = authority.rpartition("@")
    return f"{scheme}://", userinfo, host + rest[authority_end:]


def user_without_password(url: str) -> bool:
    """Whether ``url`` names a user and no password (``rtsp://admin@cam/...``)."""
    parts = _split_userinfo(url)
    return parts is not None and parts[1] is not None and ":" not in parts[1] and parts[1] != ""


def with_password(url: str, password: str | None) -> str:
    """``url`` with ``password`` (percent-encoded) added after its user name, when it names a
    user and no password; otherwise ``url`` unchanged (a password in the URL itself wins)."""
    if not password or not user_without_password(url):
        return url
    parts = _split_userinfo(url)
    assert parts is not None and parts[1] is not None
    scheme, user, rest = parts
    return f"{scheme}{user}:{quote(password, safe='')}@{rest}"


def is_url_file(spec: str) -> bool:
    """Whether ``spec`` is ``url-file:PATH``."""
    return spec.startswith(URL_FILE_PREFIX)


def read_url_file(spec: str) -> str:
    """The feed URL that ``url-file:PATH`` holds (its first line neither blank nor a ``#`` comment).

    Raises:
        SourceNotFoundError: the file does not exist.
        SourcePermissionError: group or others may read (or write) it; the message gives the
            ``chmod`` to run. Also a ``PermissionError``.
        ConfigError: it holds no URL (the message never quotes what it holds).
    """
    path = Path(spec[len(URL_FILE_PREFIX) :]).expanduser()
    if not path.is_file():
        raise SourceNotFoundError(f"{URL_FILE_PREFIX}{path}: no such file; it should hold the feed's URL, e.g. "
                                  "rtsp://user:password@camera/stream1, readable by you only (chmod 600)")  # fmt: skip
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        who = " and ".join(w for w, bits in (("its group", 0o070), ("other users", 0o007)) if mode & bits)
        raise SourcePermissionError(
            f"{URL_FILE_PREFIX}{path} holds a feed's credentials but {who} may access it (mode {mode:04o}); "
            f"make it yours alone: chmod 600 {path}"
        )
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{URL_FILE_PREFIX}{path} cannot be read ({type(exc).__name__}); it should be a text "
                          "file holding the feed's URL") from None  # fmt: skip
    for line in lines:
        text = line.strip()
        if text and not text.startswith("#"):
            if _split_userinfo(text) is None:
                # Never quote the line: it may be a password written on its own.
                raise ConfigError(f"the first line of {URL_FILE_PREFIX}{path} is not a URL (scheme://...); write "
                                  "the feed's URL there, e.g. rtsp://user:password@camera/stream1")  # fmt: skip
            return text
    raise ConfigError(f"{URL_FILE_PREFIX}{path} holds no URL; write the feed's URL on one line, e.g. "
                      "rtsp://user:password@camera/stream1")  # fmt: skip
