"""Progress of long work: frames done / total, fps and ETA.

On a terminal one line is redrawn in place; otherwise (logs, CI) a log line every ``interval``
seconds.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger(__name__)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Reports ``update`` calls as frames done, rate and time left."""

    def __init__(self, total: int | None, label: str = "frames", stream: TextIO | None = None, interval: float = 10.0):
        self.total = total
        self.label = label
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._interval = interval if not self._tty else 0.25
        self._start = time.monotonic()
        self._last = 0.0

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label} {self.done}" + (f"/{self.total}" if self.total else "") + f"  {rate:.2f}/s"
        if self.total and rate > 0:
            text += f"  ETA {_clock((self.total - self.done) / rate)}"
        return text + f"  elapsed {_clock(elapsed)}"

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        if self._tty:
            self._stream.write("\r" + self.line() + "\x1b[K")
            self._stream.flush()
        else:
            log.info("%s", self.line())

    def finish(self, how: str = "done") -> None:
        """The last line, saying how the work ended (``done``, ``interrupted``, ``aborted``, ...)."""
        if self._tty:
            self._stream.write("\r" + self.line() + f" ({how})" + "\x1b[K\n")
            self._stream.flush()
        else:
            log.info("%s (%s)", self.line(), how)
