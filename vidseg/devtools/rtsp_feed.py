"""The RTSP test feed (``pipelines/rtsp_test_server.py``) as a process: started under Debian's
``/usr/bin/python3`` (which has GStreamer's bindings) on a free loopback port, stopped by PID. The
tests, the live demo and the latency benchmark use it; nothing here runs at import."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from vidseg.devtools.processes import free_port, stop_process
from vidseg.errors import ConfigError, SourceConnectionError

SYSTEM_PYTHON = "/usr/bin/python3"


def feed_script() -> Path:
    """``pipelines/rtsp_test_server.py`` of this checkout (or of the current folder)."""
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        script = root / "pipelines" / "rtsp_test_server.py"
        if script.is_file():
            return script
    raise ConfigError("pipelines/rtsp_test_server.py was not found beside the vidseg package or in the current "
                      "folder; run from a checkout of vidseg")  # fmt: skip


class RtspTestFeed:
    """A generated moving scene served over RTSP on 127.0.0.1 (use it as a context manager).

    Args:
        port: the port (default: a free one).
        user, password: require basic authentication (the password goes to the server on its
            stdin, never on its command line, where ``ps`` would show it).
        fps, width, height: the scene.
        ntp_time_source: the clock of its RTCP sender reports (``"unix"``: 70 years behind this
            machine's, like an unsynchronised camera; see the script).
        pattern: what it shows: ``"ball"`` (videotestsrc's bouncing ball; any videotestsrc
            pattern name works) or ``"discs"`` (three coloured discs, one leaving the view for a second
            each cycle and coming back; see the script).
    """

    def __init__(self, port: int | None = None, user: str | None = None, password: str | None = None,
                 fps: int = 25, width: int = 320, height: int = 240, ntp_time_source: str = "ntp",
                 pattern: str = "ball") -> None:  # fmt: skip
        self.port = port or free_port()
        self.user, self.password = user, password
        self.args = ["--fps", str(fps), "--width", str(width), "--height", str(height),
                     "--ntp-time-source", ntp_time_source, "--pattern", pattern]  # fmt: skip
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        """``rtsp://[user:password@]127.0.0.1:PORT/live`` (user and password percent-encoded)."""
        auth = f"{quote(self.user, safe='')}:{quote(self.password or '', safe='')}@" if self.user else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}/live"

    def start(self) -> RtspTestFeed:
        """Start it and wait until it accepts clients (it prints READY).

        Raises:
            ConfigError: GStreamer's RTSP server is not installed for /usr/bin/python3.
            SourceConnectionError: it did not start.
        """
        if not os.path.exists(SYSTEM_PYTHON):
            raise ConfigError(f"{SYSTEM_PYTHON} is missing: the RTSP test feed runs under Debian's python3")
        args = [SYSTEM_PYTHON, str(feed_script()), "--port", str(self.port), *self.args]
        if self.user:
            args += ["--user", self.user, "--password-stdin"]
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)  # fmt: skip
        assert self.process.stdin is not None and self.process.stdout is not None and self.process.stderr is not None
        if self.user:
            self.process.stdin.write(f"{self.password or ''}\n")
        self.process.stdin.close()
        line = self.process.stdout.readline()  # blocks until READY, or the script exits
        if not line.startswith("READY"):
            said = self.process.stderr.read().strip().splitlines()[-1:] or [line.strip() or "nothing"]
            self.process.wait(timeout=10)
            self.process = None
            if "not available" in said[0]:
                raise ConfigError(said[0])
            raise SourceConnectionError(f"the RTSP test feed did not start on 127.0.0.1:{self.port}: {said[0][:300]}")
        return self

    def send(self, sig: int) -> None:
        """Send ``sig`` (SIGSTOP freezes it, SIGCONT thaws it)."""
        if self.process is not None:
            os.kill(self.process.pid, sig)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # a frozen server must be able to die
        stop_process(self.process, sig)
        self.process = None

    def __enter__(self) -> RtspTestFeed:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
