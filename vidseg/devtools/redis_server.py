"""A private ``redis-server`` on a free loopback port, started and stopped by PID: what the demo
publishes to and what the tests run against (never a mock)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from vidseg.devtools.processes import free_port, stop_process
from vidseg.errors import ConfigError, RedisConnectionError


def redis_server_binary() -> str | None:
    """The path of ``redis-server``, or None when it is not installed."""
    return shutil.which("redis-server")


class LocalRedisServer:
    """A real ``redis-server`` bound to 127.0.0.1 (use it as a context manager).

    Args:
        folder: its working folder (default: a new temporary folder, removed on :meth:`stop`).
        password: require this password (``requirepass``).
        persist: keep an append-only file fsync'd on every write, so a killed server keeps its data.
        port: the port (default: a free one).

    Raises:
        ConfigError: ``redis-server`` is not installed (the message says how to install it).
        RedisConnectionError: it did not start within 10 s.
    """

    def __init__(
        self, folder: Path | None = None, password: str | None = None, persist: bool = False, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self._own_folder = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix="vidseg-redis-")) if folder is None else folder
        self.password = password
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> LocalRedisServer:
        binary = redis_server_binary()
        if binary is None:
            raise ConfigError("redis-server is not installed; install it with `apt-get install redis-server` "
                              "(scripts/setup.sh does)")  # fmt: skip
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *aof, "--dir", str(self.folder)]
        if self.password:
            args += ["--requirepass", self.password]
        log_file = self.folder / "redis-server.log"
        with log_file.open("wb") as log_out:
            self.process = subprocess.Popen(args, stdout=log_out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                said = log_file.read_text(errors="replace").strip().splitlines()[-1:] or ["nothing"]
                self.process = None
                raise RedisConnectionError(
                    f"redis-server exited at once with status {code} on 127.0.0.1:{self.port} (it said: "
                    f"{said[0][:200]}); is the port taken or the binary broken?"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RedisConnectionError(
            f"redis-server did not accept connections on 127.0.0.1:{self.port} within 10 s (log: {log_file})"
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (``signal.SIGKILL``: kill it without a clean shutdown)."""
        stop_process(self.process, sig)
        self.process = None

    def __enter__(self) -> LocalRedisServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)
