"""Prompt commands: what to do to which object, and when, whatever the prompt's origin.

The command line, a prompts file, Redis and (later) the web page all produce
:class:`PromptCommand` values; the :class:`~vidseg.prompts.router.PromptRouter` validates and
applies them on the model thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from vidseg.errors import PromptError
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.types import Frame, Prompt


class Origin(str, Enum):
    """Where a prompt came from (reported in logs and events)."""

    COMMAND_LINE = "command line"
    FILE = "prompts file"
    REDIS = "redis"
    API = "api"
    CLASS = "track-class"  # created by tracking a class (--track-class), not clicked


@dataclass(frozen=True)
class When:
    """When a command applies: at processed frame ``frame``, at the first frame at or after
    ``time`` seconds (from the stream's start) or at or after ``pts`` (the source's time base);
    none of them: the next frame processed."""

    frame: int | None = None
    time: float | None = None
    pts: int | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.frame, self.time, self.pts) if v is not None]
        if len(given) > 1:
            raise PromptError(f"a prompt applies at one moment: a frame, a time or a pts; found {self}")
        if self.frame is not None and self.frame < 0:
            raise PromptError(f"a prompt's frame index must be >= 0; found {self.frame}")
        if self.time is not None and not self.time >= 0:
            raise PromptError(f"a prompt's time must be >= 0 seconds; found {self.time}")

    def due(self, frame: Frame, origin: float = 0.0) -> bool:
        """Whether a command scheduled so applies on ``frame`` (times count from ``origin``)."""
        if self.frame is not None:
            return frame.index >= self.frame
        if self.time is not None:
            return frame.time is None or frame.time - origin >= self.time - 1e-6
        if self.pts is not None:
            return frame.pts is None or frame.pts >= self.pts
        return True

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("frame", self.frame), ("time", self.time), ("pts", self.pts)) if v is not None}


@dataclass(frozen=True)
class PromptCommand:
    """Add a prompt to an object (a new id starts it), remove an object, or track a class.

    Attributes:
        obj_id: the object concerned (0 for a class to track).
        prompt: the prompt, or None to stop tracking ``obj_id`` (or with ``track_class``).
        when: when it applies.
        origin: where it came from.
        request_id: the sender's id for it, echoed in the events.
        track_class: a semantic class whose regions become tracked objects from then on
            (``{"track_class": "person"}``; needs a semantic model).
    """

    obj_id: int
    prompt: Prompt | None
    when: When = When()
    origin: Origin = Origin.API
    request_id: str | None = None
    track_class: str | None = None

    def __post_init__(self) -> None:
        if self.prompt is not None and self.prompt.obj_id != self.obj_id:
            raise PromptError(f"command for object {self.obj_id} carries a prompt for object {self.prompt.obj_id}")
        if self.track_class is not None and (self.prompt is not None or self.obj_id != 0 or not self.track_class):
            raise PromptError("a track_class command names a class and nothing else (no id, no prompt)")

    @property
    def is_removal(self) -> bool:
        return self.prompt is None and self.track_class is None

    @property
    def kind(self) -> str:
        """'remove', 'track_class', or the prompt's kind ('points', 'box', 'box+points', 'mask')."""
        if self.track_class is not None:
            return "track_class"
        return "remove" if self.prompt is None else self.prompt.kind

    @classmethod
    def track(cls, class_name: str, when: When = When(), origin: Origin = Origin.API,
              request_id: str | None = None) -> PromptCommand:  # fmt: skip
        """Track every region of ``class_name`` (see :class:`~vidseg.prompts.proposers.ClassTracker`)."""
        return cls(0, None, when, origin, request_id, track_class=class_name)

    @classmethod
    def add(cls, prompt: Prompt, when: When = When(), origin: Origin = Origin.API,
            request_id: str | None = None) -> PromptCommand:  # fmt: skip
        return cls(prompt.obj_id, prompt, when, origin, request_id)

    @classmethod
    def remove(cls, obj_id: int, when: When = When(), origin: Origin = Origin.API,
               request_id: str | None = None) -> PromptCommand:  # fmt: skip
        return cls(obj_id, None, when, origin, request_id)

    @classmethod
    def scheduled(cls, scheduled: ScheduledPrompt, origin: Origin = Origin.COMMAND_LINE) -> PromptCommand:
        """The command of a prompt given on the command line or in a prompts file."""
        return cls.add(scheduled.prompt, When(frame=scheduled.frame, time=scheduled.time), origin)

    def to_json(self) -> dict[str, Any]:
        """For manifests and logs (a mask is summarised by its area)."""
        out: dict[str, Any] = {"id": self.obj_id, "kind": self.kind, "origin": self.origin.value}
        if self.track_class is not None:
            out["track_class"] = self.track_class
        if self.prompt is not None:
            out.update(self.prompt.geometry_json())
            if self.prompt.mask is not None:
                out["mask_area"] = int(self.prompt.mask.sum())
        out.update(self.when.to_json())
        if self.request_id is not None:
            out["request_id"] = self.request_id
        return out
