"""Models as one source sees them when an owner thread runs them for every source.

Each wraps a model built once and hands every call that touches the model, or a session's state,
to the model's :class:`~vidseg.engine.owner.ModelOwner` through the source's
:class:`~vidseg.engine.owner.OwnerClient`; a source's pipeline uses it exactly as it would the
model itself (``run_job(config, model=OwnedModel.of(weights, client), ...)``):

- :class:`OwnedModel` / :class:`OwnedSession`: SAM 2's weights and a tracking session whose
  ``step``, ``add``, ``add_prompt``, ``remove_object``, ``refine``, ``reset`` and
  ``memory_stats`` run on the tracker's owner thread. The session's state is its own (memory
  bank, objects, prompts); only the weights are shared. Its read-only properties
  (``object_ids``, ``pending_ids``, ``frame_index``...) are read on the caller's thread: only the
  source's own track thread uses a session, and it waits for each call, so no call of that
  session is running while it reads them.
- :class:`OwnedSemanticModel`: ``label`` and ``predict`` on the semantic model's owner thread.
- :class:`OwnedProposer`: ``propose`` on the proposer's (Mask R-CNN's) owner thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from vidseg.engine.owner import OwnerClient
from vidseg.models.semantic import SemanticModel
from vidseg.models.semantic.hf import HfSemanticModel
from vidseg.models.semantic.info import SemanticModelInfo
from vidseg.models.tracking import MemoryStats, Sam2Model, Sam2Tracker
from vidseg.models.tracking.snapshot import SessionSnapshot
from vidseg.prompts.proposers import Proposal, Proposer
from vidseg.results import SemanticMap
from vidseg.types import BoolArray, Frame, ImageArray, Prompt, TrackingResult


@dataclass(frozen=True, eq=False)
class OwnedModel(Sam2Model):
    """SAM 2's weights, run by an owner thread: :meth:`session` makes an :class:`OwnedSession`.

    Build one per source with :meth:`of` (the weights are shared, not copied)."""

    client: OwnerClient | None = field(default=None, repr=False)

    @classmethod
    def of(cls, model: Sam2Model, client: OwnerClient) -> OwnedModel:
        """``model``'s weights (the same tensors), called through ``client``."""
        return cls(**{f.name: getattr(model, f.name) for f in fields(Sam2Model)}, client=client)

    def session(self) -> Sam2Tracker:
        if self.client is None:
            raise ValueError("an OwnedModel needs the client of its owner: build it with OwnedModel.of(model, client)")
        return OwnedSession(self, self.client)


class OwnedSession(Sam2Tracker):
    """A :class:`~vidseg.models.tracking.Sam2Tracker` whose calls run on the owner's thread (see
    the module docstring). Calls made on the owner's thread itself (``add_prompt`` calling
    ``add``) run at once."""

    def __init__(self, model: Sam2Model, client: OwnerClient) -> None:
        super().__init__(model)
        self._client = client

    def step(self, frame: Frame | ImageArray) -> TrackingResult:
        return self._client.call("step", super().step, frame)

    def add_prompt(
        self,
        obj_id: int,
        points: Sequence[Sequence[float]] | None = None,
        labels: Sequence[int] | None = None,
        box: Sequence[float] | None = None,
        mask: BoolArray | None = None,
    ) -> Prompt:
        return self._client.call("add", super().add_prompt, obj_id, points, labels, box, mask)

    def add(self, prompt: Prompt) -> None:
        self._client.call("add", super().add, prompt)

    def remove_object(self, obj_id: int) -> None:
        self._client.call("remove", super().remove_object, obj_id)

    def refine(
        self,
        obj_id: int,
        points: Sequence[Sequence[float]] | None = None,
        labels: Sequence[int] | None = None,
        box: Sequence[float] | None = None,
        mask: BoolArray | None = None,
    ) -> TrackingResult:
        return self._client.call("refine", super().refine, obj_id, points, labels, box, mask)

    def reset(self) -> None:
        self._client.call("reset", super().reset)

    def memory_stats(self) -> MemoryStats:
        return self._client.call("memory_stats", super().memory_stats)

    def snapshot(self, dtype: str = "float32", last_frame: Frame | ImageArray | None = None,
                 extra: Mapping[str, Any] | None = None) -> SessionSnapshot:  # fmt: skip
        # A copy of the memory bank: taken on the owner's thread, never beside a step.
        return self._client.call("snapshot", lambda: super(OwnedSession, self).snapshot(dtype, last_frame, extra))


class OwnedSemanticModel:
    """A semantic model (:class:`~vidseg.models.semantic.SemanticModel` or a ``hf:`` one) whose
    ``label`` and ``predict`` run on its owner's thread; ``name``, ``classes`` and ``info`` are
    the model's own (fixed once it is built)."""

    def __init__(self, model: SemanticModel | HfSemanticModel, client: OwnerClient) -> None:
        self.model = model
        self._client = client

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def classes(self) -> tuple[str, ...]:
        return self.model.classes

    @property
    def info(self) -> SemanticModelInfo:
        return self.model.info

    def predict(self, image: ImageArray) -> np.ndarray:
        return self._client.call("step", self.model.predict, image)

    def label(self, image: ImageArray) -> SemanticMap:
        return self._client.call("step", self.model.label, image)


class OwnedProposer:
    """A :class:`~vidseg.prompts.proposers.Proposer` (Mask R-CNN) whose ``propose`` runs on its
    owner's thread."""

    def __init__(self, proposer: Proposer, client: OwnerClient) -> None:
        self.proposer = proposer
        self._client = client
        self.classes: tuple[str, ...] | None = proposer.classes

    def propose(self, image: ImageArray, semantic: SemanticMap | None, classes: Sequence[str]) -> list[Proposal]:
        return self._client.call("step", self.proposer.propose, image, semantic, tuple(classes))

    def __getattr__(self, name: str) -> Any:  # min_area and the like: the proposer's own settings
        if name == "proposer":
            raise AttributeError(name)
        return getattr(self.proposer, name)
