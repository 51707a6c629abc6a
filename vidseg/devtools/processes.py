"""Child processes that tests and demos start: a free loopback port to give them, and a stop by
PID that always reaps."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to a child process still running and reap it (killing it after 10 s)."""
    if process is not None and process.poll() is None:
        os.kill(process.pid, sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
