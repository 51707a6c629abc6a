"""The bridge from SIGINT/SIGTERM to a run's stop and abort events (shared by every command that
runs a job, and later by workers).

- first signal: ``stop`` (the source stops reading; frames in flight finish; outputs close);
- second: ``abort`` (frames in flight are dropped; outputs still close and the manifest is
  written; the run ends within its deadline);
- a third, before the run's stages start (a model download, say): ``KeyboardInterrupt``, which
  ends the command at once with nothing written; once they run (``running`` is set), further
  signals change nothing: the run is already ending within its deadline, closing its outputs.

The exit status follows the convention 128 + the first signal's number: 130 for SIGINT, 143 for
SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType

log = logging.getLogger("vidseg")


class SignalBridge:
    """Installs the handlers while in a ``with`` block, and restores the previous ones after."""

    def __init__(self, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.stop = threading.Event()
        self.abort = threading.Event()
        self.running = threading.Event()  # set by the job when its stages start
        self.first: signal.Signals | None = None
        self._signals = signals
        self._previous: dict[signal.Signals, object] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        # No exception from here: the job notices the events and still closes its outputs.
        name = signal.Signals(signum).name
        if not self.stop.is_set():
            self.first = signal.Signals(signum)
            log.warning("%s: finishing the frames in flight and closing the outputs (again to abort)", name)
            self.stop.set()
        elif not self.abort.is_set():
            log.warning("%s: aborting; dropping the frames in flight, closing the outputs", name)
            self.abort.set()
        elif not self.running.is_set():
            raise KeyboardInterrupt  # still starting: nothing to close yet
        else:
            log.warning("%s: already aborting; the run ends within seconds", name)

    @property
    def exit_code(self) -> int:
        """128 + the first signal's number (130 for SIGINT, 143 for SIGTERM); 130 when none came."""
        return 128 + int(self.first if self.first is not None else signal.SIGINT)

    def __enter__(self) -> SignalBridge:
        self._previous = {sig: signal.signal(sig, self._handle) for sig in self._signals}
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            # Once asked to stop, the process is ending: a further Ctrl-C must not break its exit
            # with a traceback from interpreter shutdown.
            signal.signal(sig, signal.SIG_IGN if self.first is not None else handler)  # type: ignore[arg-type]
