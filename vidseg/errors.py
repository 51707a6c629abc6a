"""The vidseg error hierarchy.

Every error the package raises on purpose derives from :class:`VidsegError`, so callers (and the
CLI) can catch one type. Subclasses also inherit the matching builtin, so code that already
catches ``ValueError`` or ``FileNotFoundError`` keeps working.

Messages follow one rule: say what was expected, what was found, and what to do next.
"""

from __future__ import annotations

import errno


class VidsegError(Exception):
    """Base class of every error raised by vidseg on purpose."""


class ConfigError(VidsegError, ValueError):
    """A configuration value or option is invalid (unknown model name, bad option)."""


class UnknownModelError(ConfigError, KeyError):
    """A model name is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0]) if self.args else ""


class CheckpointError(VidsegError, FileNotFoundError):
    """A model checkpoint cannot be found, downloaded, verified or loaded."""


class InputError(VidsegError, ValueError):
    """Data handed to a stage has the wrong type, shape, dtype or range."""


class FrameError(InputError):
    """A frame is not an HxWx3 uint8 RGB array."""


class PromptError(InputError):
    """A prompt is malformed, outside the frame, or names an unknown object."""


class DeviceError(VidsegError, RuntimeError):
    """The requested compute device is not available."""


class SourceError(VidsegError, OSError):
    """A video source cannot be opened or read."""


class SourceNotFoundError(SourceError, FileNotFoundError):
    """The source path does not exist."""


class SourceFormatError(SourceError, ValueError):
    """The source is not a readable video (or has no video stream)."""


class SinkError(VidsegError, OSError):
    """An output cannot be written."""


class ConnectionFailedError(VidsegError, ConnectionError):
    """A server (Redis, a live feed) cannot be reached or dropped the connection."""


class TimedOutError(VidsegError, TimeoutError):
    """A server did not answer in time."""


class SourceConnectionError(SourceError, ConnectionFailedError):
    """A live source cannot be reached, refused the credentials, or dropped the connection."""


class SourceTimeoutError(SourceError, TimedOutError):
    """A live source sent nothing within its timeout."""


class RedisConnectionError(SinkError, ConnectionFailedError):
    """Redis cannot be reached, refused the credentials, or dropped the connection."""


class RedisTimeoutError(SinkError, TimedOutError):
    """Redis did not answer within the socket timeout."""


class RedisCommandError(SinkError):
    """Redis refused a command for a reason a retry cannot fix (WRONGTYPE, NOPERM, OOM, a bad option)."""


class EngineError(VidsegError, RuntimeError):
    """A model's owner thread (shared by several sources) closed or died before it answered a call."""


class PipelineError(VidsegError, RuntimeError):
    """A pipeline stage failed; the message names the stage."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            where = f" writing {cause.filename}" if cause.filename else ""
            why = f"no space left on the device{where}; free some space or give --out a folder on another disk"
        else:
            why = f"{type(cause).__name__}: {cause}"
        super().__init__(f"stage {stage!r} failed: {why}")
        self.stage = stage
        self.cause = cause
