"""One router for every prompt: validated once, applied on the model thread, reported as events.

Producers (the command line and prompts files before the run, Redis and later the web page
while it runs) hand :class:`~vidseg.prompts.commands.PromptCommand` values to
:meth:`PromptRouter.submit` from any thread, or report an entry they could not read with
:meth:`PromptRouter.reject`. The model thread calls :meth:`PromptRouter.apply_due` before each
frame: every command that is due is checked by the same rules (:meth:`PromptRouter.check`),
applied to the tracking session, and answered with a ``prompt_applied`` or ``prompt_rejected``
event.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from vidseg.errors import ConfigError, PromptError
from vidseg.prompts.commands import Origin, PromptCommand
from vidseg.results import Event, EventKind
from vidseg.types import Frame, Prompt

log = logging.getLogger(__name__)
_BEFORE_RUN = (Origin.COMMAND_LINE, Origin.FILE)  # commands that came with the run (in its manifest already)


class PromptTarget(Protocol):
    """What the router applies commands to (a :class:`~vidseg.models.tracking.Sam2Tracker`)."""

    @property
    def object_ids(self) -> tuple[int, ...]: ...

    @property
    def pending_ids(self) -> tuple[int, ...]: ...

    def add(self, prompt: Prompt) -> None: ...

    def remove_object(self, obj_id: int) -> None: ...


@dataclass(frozen=True)
class PromptLimits:
    """What one prompt and one run may ask of the tracker. Every click is encoded on its frame
    and every object is stepped on every frame, so without limits one prompt could stall a run.

    Attributes:
        points: clicks in one prompt (``--point-limit``).
        objects: objects tracked at once, from every origin (``--object-limit``).
    """

    points: int = 64
    objects: int = 100

    def __post_init__(self) -> None:
        for name in ("points", "objects"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"--{name[:-1]}-limit must be a whole number >= 1; found {value!r}")


class PromptRouter:
    """Validates, schedules and applies prompt commands; see the module docstring.

    Args:
        id_limit: the largest object id the run's outputs can hold (ids are 1..id_limit).
        commands: commands known before the run (command line, prompts file).
        origin: the stream's start time in seconds; command times count from it.
        limits: clicks per prompt and objects per run (see :class:`PromptLimits`).
    """

    def __init__(self, id_limit: int, commands: Iterable[PromptCommand] = (), origin: float = 0.0,
                 limits: PromptLimits | None = None) -> None:  # fmt: skip
        if id_limit < 1:
            raise PromptError(f"id_limit must be >= 1; found {id_limit}")
        self.id_limit = id_limit
        self.limits = limits or PromptLimits()
        self._origin = origin
        self._waiting: list[PromptCommand] = list(commands)  # not due yet
        self._inbox: list[PromptCommand | tuple[Event, Origin]] = []  # from other threads
        self._lock = threading.Lock()  # guards both lists: the manifest reads them from other threads
        self._applied_n: Counter[Origin] = Counter()
        self._applied_log: list[tuple[PromptCommand, int]] = []  # (command, frame) applied while running
        self._rejected_n: Counter[Origin] = Counter()
        # Set by the job when a semantic model runs: starts tracking a class, or says why not.
        self.track_class: Callable[[str], str | None] | None = None

    @property
    def applied(self) -> int:
        """Commands applied, from every origin."""
        return sum(self._applied_n.values())

    @property
    def rejected(self) -> int:
        """Commands and entries rejected, from every origin."""
        return sum(self._rejected_n.values())

    APPLIED_KEPT = 1000  # applied commands kept for the manifest (a long live run may get many more)

    def applied_while_running(self) -> tuple[list[dict[str, object]], int]:
        """The commands that did not come with the run (Redis, the API, tracking by class) and
        were applied, as JSON with the frame each was applied on, the first ``APPLIED_KEPT``
        of them; and how many more were applied."""
        with self._lock:
            kept = list(self._applied_log)
        more = max(0, sum(n for o, n in self._applied_n.items() if o not in _BEFORE_RUN) - len(kept))
        return [{**command.to_json(), "applied_frame": frame} for command, frame in kept], more

    def counts(self, origin: Origin) -> tuple[int, int]:
        """(applied, rejected) of the commands that came from ``origin``."""
        return self._applied_n[origin], self._rejected_n[origin]

    # ------------------------------------------------------------------ rules
    def check(self, command: PromptCommand, height: int, width: int) -> str | None:
        """Why ``command`` cannot be applied to a ``height`` x ``width`` frame, or None."""
        if command.track_class is not None:
            return None  # checked by the class handler when applied
        if not 1 <= command.obj_id <= self.id_limit:
            return (
                f"object id {command.obj_id} is out of range: this run's outputs hold ids 1..{self.id_limit}; "
                "0 is the background"
            )
        if command.prompt is not None:
            clicks = len(command.prompt.points)
            if clicks > self.limits.points:
                return (f"the prompt for object {command.obj_id} has {clicks} clicks; one prompt may hold at most "
                        f"{self.limits.points} (--point-limit)")  # fmt: skip
            return command.prompt.misfit(height, width)
        return None

    def room(self, target: PromptTarget) -> int:
        """How many more objects ``target`` may track under the run's object limit."""
        return max(0, self.limits.objects - len({*target.object_ids, *target.pending_ids}))

    def _over_limit(self, target: PromptTarget, command: PromptCommand) -> str | None:
        known = {*target.object_ids, *target.pending_ids}
        if command.prompt is None or command.obj_id in known or len(known) < self.limits.objects:
            return None
        return (f"object {command.obj_id} would be object {len(known) + 1}: a run tracks at most "
                f"{self.limits.objects} objects at once (--object-limit); remove one first")  # fmt: skip

    def check_before_run(self, height: int, width: int) -> None:
        """Raise :class:`PromptError` for the first command known now that breaks the rules on a
        ``height`` x ``width`` frame (command-line prompts are checked before the run starts)."""
        waiting = self.waiting()
        for command in waiting:
            reason = self.check(command, height, width)
            if reason is not None:
                raise PromptError(f"{reason} ({command.origin.value})")
        ids = {c.obj_id for c in waiting if c.prompt is not None}
        if len(ids) > self.limits.objects:
            raise PromptError(f"the prompts name {len(ids)} objects; a run tracks at most {self.limits.objects} "
                              "objects at once (raise --object-limit if the machine can take it)")  # fmt: skip

    # ------------------------------------------------------------------ producers (any thread)
    def submit(self, command: PromptCommand) -> None:
        """Queue ``command``; it is checked and applied on the model thread when due."""
        with self._lock:
            self._inbox.append(command)

    def reject(self, reason: str, obj_id: int | None = None, request_id: str | None = None,
               origin: Origin = Origin.REDIS) -> None:  # fmt: skip
        """Report an entry a producer could not read as a prompt (answered on the next frame)."""
        event = Event(EventKind.PROMPT_REJECTED, obj_id=obj_id, detail=reason, request_id=request_id)
        with self._lock:
            self._inbox.append((event, origin))

    # ------------------------------------------------------------------ model thread
    def apply_due(self, target: PromptTarget, frame: Frame) -> list[Event]:
        """Apply every command due on ``frame`` (in the order they came) and return the events."""
        with self._lock:
            arrived, self._inbox = self._inbox, []
            # Those waiting came first; then what arrived since the last frame, in arrival order.
            due = [c for c in self._waiting if c.when.due(frame, self._origin)]
            self._waiting = [c for c in self._waiting if c not in due]
            self._waiting += [c for c in arrived if isinstance(c, PromptCommand) and not c.when.due(frame, self._origin)]
        events = [self.apply(target, frame, command) for command in due]
        for item in arrived:
            if isinstance(item, tuple):  # an unreadable entry
                event, origin = item
                events.append(self._rejected(frame, event.obj_id, event.detail, event.request_id, origin))
            elif item.when.due(frame, self._origin):
                events.append(self.apply(target, frame, item))
        return events

    def apply(self, target: PromptTarget, frame: Frame, command: PromptCommand) -> Event:
        """Apply ``command`` on ``frame`` now (model thread): what :meth:`apply_due` does with each
        due command, and what the tracker does with an object a class proposer made."""
        reason = self.check(command, frame.height, frame.width)
        if reason is None and command.track_class is not None:
            reason = self.track_class(command.track_class) if self.track_class is not None else (
                "tracking by class needs a semantic model: start the job with --semantic NAME")  # fmt: skip
            if reason is None:
                self._applied_n[command.origin] += 1
                self._log_applied(command, frame)
                log.info("frame %d: now tracking every %s (%s)", frame.index, command.track_class, command.origin.value)
                return Event(EventKind.PROMPT_APPLIED, frame.index, frame.time, None,
                             f"track_class {command.track_class}", command.request_id, command.origin.value)  # fmt: skip
        elif reason is None and (reason := self._over_limit(target, command)) is None:
            try:
                if command.prompt is None:
                    target.remove_object(command.obj_id)
                else:
                    target.add(command.prompt)
            except PromptError as exc:
                reason = str(exc)
        if reason is not None:
            return self._rejected(frame, command.obj_id, reason, command.request_id, command.origin)
        self._applied_n[command.origin] += 1
        self._log_applied(command, frame)
        log.info("frame %d: %s for object %d applied (%s)", frame.index, command.kind, command.obj_id,
                 command.origin.value)  # fmt: skip
        detail = command.kind if command.origin is not Origin.CLASS else f"{command.kind}: new object by class"
        return Event(EventKind.PROMPT_APPLIED, frame.index, frame.time, command.obj_id, detail, command.request_id,
                     command.origin.value)  # fmt: skip

    def _log_applied(self, command: PromptCommand, frame: Frame) -> None:
        if command.origin not in _BEFORE_RUN:
            with self._lock:
                if len(self._applied_log) < self.APPLIED_KEPT:
                    self._applied_log.append((command, frame.index))

    def _rejected(self, frame: Frame, obj_id: int | None, reason: str, request_id: str | None,
                  origin: Origin) -> Event:  # fmt: skip
        self._rejected_n[origin] += 1
        log.warning("frame %d: prompt rejected: %s", frame.index, reason)
        return Event(EventKind.PROMPT_REJECTED, frame.index, frame.time, obj_id, reason, request_id, origin.value)

    def waiting(self) -> list[PromptCommand]:
        """Commands not applied yet (after the run: never due)."""
        with self._lock:
            return [*self._waiting, *(item for item in self._inbox if isinstance(item, PromptCommand))]
