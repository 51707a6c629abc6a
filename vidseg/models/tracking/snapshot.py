"""Saving a tracking session and restoring it exactly: :class:`SessionSnapshot`.

A snapshot holds everything the session's next step reads: every object with its memory bank
(conditioning and recent frames' spatial memories, object pointers, presence logits, the latest
frame's mask logits, a staged correction), the prompts queued for the next frame, the memory
position encoding, the frame counter, and the identity of the model that made it (name, image
size, a digest of its settings and one of its weights). :meth:`Sam2Model.restore` refuses a
snapshot of another model or another format version.

On disk a snapshot is a safetensors file: tensors plus one JSON document, read without running
any code (no pickle). A SHA-256 over both catches damaged files.

    >>> snap = session.snapshot()
    >>> snap.save("stream7.vsnap")
    >>> later = model.restore(SessionSnapshot.load("stream7.vsnap"))   # same model, any process
"""

from __future__ import annotations

import hashlib
import json
import os
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from vidseg.errors import ConfigError, InputError
from vidseg.models.tracking.memory import MemoryEntry, ObjectMemory
from vidseg.types import Frame, ImageArray, Prompt, check_image
from vidseg.version import __version__

if TYPE_CHECKING:
    from vidseg.models.tracking.tracker import Sam2Model

SNAPSHOT_FORMAT_VERSION = 1
_FORMAT = "vidseg-session-snapshot"
_ENTRY_TENSORS = ("maskmem_features", "obj_ptr", "object_score_logits", "pred_masks")
SnapshotDtype = Literal["float32", "float16"]


class SnapshotError(InputError):
    """A session snapshot cannot be read, or belongs to another model or format version."""


@dataclass(frozen=True)
class ModelIdentity:
    """What a snapshot can only be restored into.

    Attributes:
        name: model name (``"sam2.1_hiera_tiny"``).
        image_size: model input size.
        config_digest: SHA-256 of every setting of the ``sam2`` modules (their plain attributes)
            and of the session options that change results (hole filling, prompted frames kept).
        weights_digest: SHA-256 of the state dict (names, dtypes, shapes and bytes).
        checkpoint_sha256: the checkpoint file's SHA-256, when it was loaded from one.
        random_weights: whether the weights were seeded random ones.
        device: where the session ran (informative; not checked).
    """

    name: str
    image_size: int
    config_digest: str
    weights_digest: str
    checkpoint_sha256: str | None
    random_weights: bool
    device: str

    @classmethod
    def of(cls, model: Sam2Model) -> ModelIdentity:
        """The identity of ``model`` (the weights' digest is cached until a weight changes)."""
        return cls(
            name=model.info.name,
            image_size=model.info.image_size,
            config_digest=_config_digest(model),
            weights_digest=weights_digest(model.net),
            checkpoint_sha256=model.info.checkpoint_sha256,
            random_weights=model.info.random_weights,
            device=str(model.device),
        )

    def mismatch(self, other: ModelIdentity) -> str | None:
        """Why a snapshot made by ``self`` cannot be restored into ``other`` (None: it can)."""
        for what, mine, theirs in (
            ("model", self.name, other.name),
            ("image size", self.image_size, other.image_size),
            ("settings digest", self.config_digest[:12], other.config_digest[:12]),
            ("weights digest", self.weights_digest[:12], other.weights_digest[:12]),
        ):
            if mine != theirs:
                return f"{what} {mine} expected (the snapshot's), found {theirs} (this model's)"
        return None


@dataclass(frozen=True)
class ObjectSnapshot:
    """One object of a session: its memory bank and its prompts queued for the next frame.

    Attributes:
        obj_id: the object's id.
        tracked: whether the session tracks it already (False: only prompts are queued).
        cond: (frame index, entry) of the prompted frames, in the session's order.
        non_cond: (frame index, entry) of the recent tracked frames the next frames read.
        staged: a correction of the latest frame, not yet memory: (frame, entry, prompted).
        pending: prompts queued for the next frame, in order.
    """

    obj_id: int
    tracked: bool
    cond: tuple[tuple[int, MemoryEntry], ...] = ()
    non_cond: tuple[tuple[int, MemoryEntry], ...] = ()
    staged: tuple[int, MemoryEntry, bool] | None = None
    pending: tuple[Prompt, ...] = ()

    def entries(self) -> list[tuple[str, MemoryEntry]]:
        """(name, entry) of every memory entry, names unique within the object."""
        out = [(f"c{t}", e) for t, e in self.cond] + [(f"n{t}", e) for t, e in self.non_cond]
        if self.staged is not None:
            out.append((f"s{self.staged[0]}", self.staged[1]))
        return out


@dataclass(frozen=True, eq=False)
class SessionSnapshot:
    """A tracking session frozen between two frames; :meth:`Sam2Model.restore` continues it.

    Tensors live on the CPU in the dtypes the session computes with; with ``dtype="float16"``
    their float32 values were rounded to float16 (and are stored as float16).

    Attributes:
        version: the snapshot format version (:data:`SNAPSHOT_FORMAT_VERSION`).
        model: the model it belongs to.
        frame_index: the index the next stepped frame gets.
        objects: every object: the tracked ones in the session's order, then those only
            prompted so far.
        pending_order: ids with queued prompts, in the order they were queued (new objects are
            added in that order on the next frame).
        maskmem_pos_enc: the memory position encoding (the same for every frame and object).
        next_object_id: one more than the highest id the session holds (0 without objects):
            the session hands out no ids, but a caller numbering objects in order goes on here.
        epoch: the last stepped :class:`Frame`'s epoch (0 when none was a Frame).
        last_source_index: that frame's index in its source (None when none was a Frame).
        last_size: (height, width) of the last stepped frame (prompts are checked against it).
        last_frame: the last stepped frame's pixels (and record), when the snapshot was asked
            to keep them: the restored session can then :meth:`Sam2Tracker.refine` that frame.
        last_batch_sizes: the session's :attr:`Sam2Tracker.last_batch_sizes`.
        dtype: ``"float32"`` (exact) or ``"float16"`` (the memory's float32 tensors rounded).
        extra: JSON the caller stored with the snapshot (e.g. each object's class or origin).
        vidseg_version: the vidseg that wrote it (informative).
    """

    version: int
    model: ModelIdentity
    frame_index: int
    objects: tuple[ObjectSnapshot, ...]
    pending_order: tuple[int, ...]
    maskmem_pos_enc: tuple[torch.Tensor, ...] | None
    next_object_id: int
    epoch: int = 0
    last_source_index: int | None = None
    last_size: tuple[int, int] | None = None
    last_frame: Frame | ImageArray | None = None
    last_batch_sizes: tuple[int, ...] = ()
    dtype: SnapshotDtype = "float32"
    extra: Mapping[str, Any] = field(default_factory=dict)
    vidseg_version: str = __version__

    @property
    def object_ids(self) -> tuple[int, ...]:
        """Ids of every object (tracked or with queued prompts), in the session's order."""
        return tuple(o.obj_id for o in self.objects)

    # ------------------------------------------------------------------ bytes
    def to_bytes(self) -> bytes:
        """The snapshot as a safetensors file's bytes (tensors plus one JSON document)."""
        from safetensors.torch import save

        tensors: dict[str, torch.Tensor] = {}
        held: dict[str, str] = {}

        def put(name: str, tensor: torch.Tensor, memory: bool = False) -> str:
            stored = tensor.detach().cpu().contiguous()
            if memory and self.dtype == "float16" and stored.dtype == torch.float32:
                held[name] = "float32"
                stored = stored.to(torch.float16)
            tensors[name] = stored
            return name

        objects = []
        for k, obj in enumerate(self.objects):
            entries = {
                name: {
                    attr: put(f"o{k}.{name}.{attr}", value, memory=True)
                    for attr in _ENTRY_TENSORS
                    if (value := getattr(entry, attr)) is not None
                }
                for name, entry in obj.entries()
            }
            pending = []
            for j, prompt in enumerate(obj.pending):
                mask = None
                if prompt.mask is not None:
                    mask = put(f"p{k}.{j}.mask", torch.from_numpy(np.ascontiguousarray(prompt.mask)))
                pending.append({"points": [list(p) for p in prompt.points], "labels": list(prompt.labels),
                                "box": None if prompt.box is None else list(prompt.box), "mask": mask})  # fmt: skip
            objects.append({
                "id": obj.obj_id,
                "tracked": obj.tracked,
                "cond": [t for t, _ in obj.cond],
                "non_cond": [t for t, _ in obj.non_cond],
                "staged": None if obj.staged is None else [obj.staged[0], obj.staged[2]],
                "entries": entries,
                "pending": pending,
            })  # fmt: skip
        pos = None if self.maskmem_pos_enc is None else [put(f"pos{i}", p) for i, p in enumerate(self.maskmem_pos_enc)]
        frame = None
        if self.last_frame is not None:
            image = self.last_frame.image if isinstance(self.last_frame, Frame) else self.last_frame
            frame = {"image": put("frame", torch.from_numpy(np.ascontiguousarray(image))),
                     "record": _frame_json(self.last_frame) if isinstance(self.last_frame, Frame) else None}  # fmt: skip
        doc = {
            "version": self.version,
            "vidseg_version": self.vidseg_version,
            "model": {f.name: getattr(self.model, f.name) for f in fields(ModelIdentity)},
            "frame_index": self.frame_index,
            "next_object_id": self.next_object_id,
            "epoch": self.epoch,
            "last_source_index": self.last_source_index,
            "last_size": None if self.last_size is None else list(self.last_size),
            "last_batch_sizes": list(self.last_batch_sizes),
            "dtype": self.dtype,
            "held_dtypes": held,
            "objects": objects,
            "pending_order": list(self.pending_order),
            "maskmem_pos_enc": pos,
            "last_frame": frame,
            "extra": dict(self.extra),
        }
        text = json.dumps(doc, sort_keys=True, allow_nan=False)
        metadata = {"format": _FORMAT, "version": str(self.version), "vidseg": text,
                    "sha256": _digest(text, tensors)}  # fmt: skip
        return bytes(save(tensors, metadata=metadata))

    @classmethod
    def from_bytes(cls, data: bytes) -> SessionSnapshot:
        """Read a snapshot written by :meth:`to_bytes`.

        Raises:
            SnapshotError: not a vidseg snapshot, another format version, or damaged bytes.
        """
        from safetensors.torch import load

        metadata = _read_metadata(data)
        version = metadata.get("version", "?")
        if version != str(SNAPSHOT_FORMAT_VERSION):
            raise SnapshotError(
                f"session snapshot format version {SNAPSHOT_FORMAT_VERSION} expected, found version {version} "
                f"(written by vidseg {_peek_vidseg_version(metadata)}); restore it with that vidseg version, or "
                "start a new session from prompts"
            )
        try:
            tensors = load(data)
            text = metadata["vidseg"]
            ok = metadata.get("sha256") == _digest(text, tensors)
        except Exception as exc:  # safetensors and json raise several types for damaged input
            raise _damaged(f"{type(exc).__name__}: {exc}"[:120]) from None
        if not ok:
            raise _damaged("its SHA-256 does not match its content")
        try:
            return _from_doc(json.loads(text), tensors)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise _damaged(f"description does not parse ({type(exc).__name__}: {exc})"[:160]) from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_bytes` to ``path`` (through a temporary file, so a crash leaves no half
        file under that name); returns the path."""
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(self.to_bytes())
        os.replace(partial, target)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SessionSnapshot:
        """Read a snapshot file written by :meth:`save`.

        Raises:
            SnapshotError: the file is missing, damaged, or of another format version.
        """
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SnapshotError(f"cannot read session snapshot {path}: {exc.strerror or exc}; check the path") from None
        return cls.from_bytes(data)

    def check_model(self, model: Sam2Model) -> None:
        """Raise unless ``model`` is the one this snapshot was made with, in this format version.

        Raises:
            SnapshotError: another model, image size, settings or weights, or another version.
        """
        if self.version != SNAPSHOT_FORMAT_VERSION:
            raise SnapshotError(
                f"session snapshot format version {SNAPSHOT_FORMAT_VERSION} expected, found version {self.version}; "
                "restore it with the vidseg that wrote it, or start a new session from prompts"
            )
        why = self.model.mismatch(ModelIdentity.of(model))
        if why is not None:
            raise SnapshotError(
                f"session snapshot belongs to another model: {why}; restore it into the model it was made with "
                f"(build_model({self.model.name!r}, image_size={self.model.image_size}, same checkpoint and options))"
            )


# ---------------------------------------------------------------------- identity
_WEIGHT_DIGESTS: weakref.WeakKeyDictionary[torch.nn.Module, tuple[tuple[tuple[int, int], ...], str]] = (
    weakref.WeakKeyDictionary()
)


def weights_digest(net: torch.nn.Module) -> str:
    """SHA-256 of ``net``'s state dict: names, dtypes, shapes and bytes, in order.

    Cached per module until a tensor of it is replaced or changed in place (their version counters
    move), so a session's snapshots pay for it once (about 0.1 s for hiera-tiny on a CPU).
    """
    state = net.state_dict()
    key = tuple((t.data_ptr(), t._version) for t in state.values())
    cached = _WEIGHT_DIGESTS.get(net)
    if cached is not None and cached[0] == key:
        return cached[1]
    digest = hashlib.sha256()
    for name, tensor in state.items():
        digest.update(f"{name}:{tensor.dtype}:{list(tensor.shape)};".encode())
        digest.update(_raw(tensor))
    value = digest.hexdigest()
    _WEIGHT_DIGESTS[net] = (key, value)
    return value


def _plain(value: Any) -> bool:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return True
    return isinstance(value, (tuple, list)) and all(_plain(v) for v in value)


def _config_digest(model: Sam2Model) -> str:
    """SHA-256 of every plain setting of the ``sam2`` modules and the session options that change
    results: a config override (``max_cond_frames_in_attn``, ...) gives another digest."""
    settings: dict[str, Any] = {
        "vidseg.fill_hole_area": int(model.fill_hole_area),
        "vidseg.max_cond_frames": int(model.max_cond_frames),
    }
    for path, module in model.net.named_modules():
        for key, value in vars(module).items():
            if not key.startswith("_") and key != "training" and _plain(value):
                settings[f"{path}.{key}"] = value
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------- encoding helpers
def _raw(tensor: torch.Tensor) -> memoryview:
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return (flat.view(torch.uint8) if flat.dtype != torch.bool else flat).numpy().data


def _digest(text: str, tensors: Mapping[str, torch.Tensor]) -> str:
    digest = hashlib.sha256(text.encode())
    for name in sorted(tensors):
        tensor = tensors[name]
        digest.update(f"{name}:{tensor.dtype}:{list(tensor.shape)};".encode())
        digest.update(_raw(tensor))
    return digest.hexdigest()


def _damaged(why: str) -> SnapshotError:
    why = " ".join(why.split())  # one line, whatever the parser said
    return SnapshotError(
        f"session snapshot is damaged ({why}): expected the bytes SessionSnapshot.to_bytes wrote, found others; "
        "take a new snapshot or use an intact copy"
    )


def _read_metadata(data: bytes) -> dict[str, str]:
    """The safetensors header's ``__metadata__`` (format: 8-byte little-endian length, JSON)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SnapshotError(f"session snapshot bytes expected, found {type(data).__name__}")
    size = int.from_bytes(bytes(data[:8]), "little") if len(data) >= 8 else -1
    if not 2 <= size <= len(data) - 8:
        raise _damaged(f"header length {size} does not fit {len(data)} bytes (truncated, or not a snapshot)")
    try:
        header = json.loads(bytes(data[8 : 8 + size]))
        metadata = header.get("__metadata__") if isinstance(header, dict) else None
    except ValueError as exc:
        raise _damaged(f"header does not parse ({type(exc).__name__})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != _FORMAT:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise SnapshotError(
            f"a vidseg session snapshot expected, found a safetensors file with format {found!r}; "
            "give a file written by SessionSnapshot.save"
        )
    return {str(k): str(v) for k, v in metadata.items()}


def _peek_vidseg_version(metadata: Mapping[str, str]) -> str:
    try:
        return str(json.loads(metadata["vidseg"]).get("vidseg_version", "?"))
    except (KeyError, ValueError, AttributeError):
        return "?"


def _frame_json(frame: Frame) -> dict[str, Any]:
    tb = frame.time_base
    return {"index": frame.index, "pts": frame.pts, "time_base": None if tb is None else [tb.numerator, tb.denominator],
            "time": frame.time, "wallclock": frame.wallclock, "sender_wallclock": frame.sender_wallclock,
            "source_id": frame.source_id, "epoch": frame.epoch, "name": frame.name}  # fmt: skip


def _prompt_from(obj_id: int, doc: Mapping[str, Any], get: Callable[[str], torch.Tensor]) -> Prompt:
    box = doc["box"]
    return Prompt(
        obj_id,
        points=tuple((float(x), float(y)) for x, y in doc["points"]),
        labels=tuple(int(v) for v in doc["labels"]),
        box=None if box is None else (float(box[0]), float(box[1]), float(box[2]), float(box[3])),
        mask=None if doc["mask"] is None else get(doc["mask"]).numpy().astype(bool),
    )


def _from_doc(doc: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> SessionSnapshot:
    held: Mapping[str, str] = doc["held_dtypes"]

    def get(name: str) -> torch.Tensor:
        tensor = tensors[name]
        return tensor.to(getattr(torch, held[name])) if name in held else tensor

    def entry(names: Mapping[str, str]) -> MemoryEntry:
        values = {attr: get(names[attr]) if attr in names else None for attr in _ENTRY_TENSORS}
        return MemoryEntry(**values)  # type: ignore[arg-type]

    objects = []
    for obj in doc["objects"]:
        entries = obj["entries"]
        pending = tuple(_prompt_from(int(obj["id"]), p, get) for p in obj["pending"])
        staged = obj["staged"]
        objects.append(ObjectSnapshot(
            obj_id=int(obj["id"]),
            tracked=bool(obj["tracked"]),
            cond=tuple((int(t), entry(entries[f"c{t}"])) for t in obj["cond"]),
            non_cond=tuple((int(t), entry(entries[f"n{t}"])) for t in obj["non_cond"]),
            staged=None if staged is None else (int(staged[0]), entry(entries[f"s{staged[0]}"]), bool(staged[1])),
            pending=pending,
        ))  # fmt: skip
    last_frame: Frame | ImageArray | None = None
    if doc["last_frame"] is not None:
        image = check_image(get(doc["last_frame"]["image"]).numpy())
        record = doc["last_frame"]["record"]
        if record is None:
            last_frame = image
        else:
            tb = record.pop("time_base")
            last_frame = Frame(image=image, time_base=None if tb is None else Fraction(*tb), **record)
    pos = doc["maskmem_pos_enc"]
    size = doc["last_size"]
    return SessionSnapshot(
        version=int(doc["version"]),
        model=ModelIdentity(**doc["model"]),
        frame_index=int(doc["frame_index"]),
        objects=tuple(objects),
        pending_order=tuple(int(v) for v in doc["pending_order"]),
        maskmem_pos_enc=None if pos is None else tuple(get(name) for name in pos),
        next_object_id=int(doc["next_object_id"]),
        epoch=int(doc["epoch"]),
        last_source_index=doc["last_source_index"],
        last_size=None if size is None else (int(size[0]), int(size[1])),
        last_frame=last_frame,
        last_batch_sizes=tuple(int(v) for v in doc["last_batch_sizes"]),
        dtype=doc["dtype"],
        extra=doc["extra"],
        vidseg_version=str(doc["vidseg_version"]),
    )


def capture(
    model: Sam2Model,
    memories: Mapping[int, ObjectMemory],
    pending: Mapping[int, list[Prompt]],
    maskmem_pos_enc: list[torch.Tensor] | None,
    frame_index: int,
    last_size: tuple[int, int] | None,
    last_record: Frame | None,
    last_batch_sizes: tuple[int, ...],
    dtype: str = "float32",
    last_frame: Frame | ImageArray | None = None,
    extra: Mapping[str, Any] | None = None,
) -> SessionSnapshot:
    """A :class:`SessionSnapshot` of a session's state (see :meth:`Sam2Tracker.snapshot`); every
    tensor is copied to the CPU, so the session can go on without changing the snapshot."""
    if dtype not in ("float32", "float16"):
        raise ConfigError(f"snapshot dtype 'float32' (exact) or 'float16' expected; found {dtype!r}")
    try:
        extra_json = json.loads(json.dumps(dict(extra or {}), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"snapshot extra must be plain JSON (str keys; numbers, strings, lists, dicts); {exc}"
        ) from None
    half = dtype == "float16"

    def copy(tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.detach().to("cpu", copy=True)
        if half and out.dtype == torch.float32:  # what the file will hold, so memory and bytes agree
            out = out.to(torch.float16).to(torch.float32)
        return out

    def exact(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.detach().to("cpu", copy=True)

    def prompts(obj_id: int) -> tuple[Prompt, ...]:
        queued = pending.get(obj_id, [])
        return tuple(p if p.mask is None else replace(p, mask=p.mask.copy()) for p in queued)

    objects = [
        ObjectSnapshot(
            obj_id=obj_id,
            tracked=True,
            cond=tuple((t, e.map(copy)) for t, e in memory.cond.items()),
            non_cond=tuple((t, e.map(copy)) for t, e in memory.non_cond.items()),
            staged=None if memory.staged is None else (memory.staged[0], memory.staged[1].map(copy), memory.staged[2]),
            pending=prompts(obj_id),
        )
        for obj_id, memory in memories.items()
    ]
    objects += [
        ObjectSnapshot(obj_id, tracked=False, pending=prompts(obj_id)) for obj_id in pending if obj_id not in memories
    ]
    frame: Frame | ImageArray | None = None
    if last_frame is not None:
        image = last_frame.image if isinstance(last_frame, Frame) else check_image(last_frame)
        if last_size is None:
            raise ConfigError("last_frame given, but the session has stepped no frame yet; leave it out")
        if tuple(image.shape[:2]) != last_size:
            raise ConfigError(
                f"last_frame must be the frame the session stepped last, {last_size[0]}x{last_size[1]} (HxW); "
                f"found {image.shape[0]}x{image.shape[1]}"
            )
        frame = replace(last_frame, image=image.copy()) if isinstance(last_frame, Frame) else image.copy()
    ids = [o.obj_id for o in objects]
    return SessionSnapshot(
        version=SNAPSHOT_FORMAT_VERSION,
        model=ModelIdentity.of(model),
        frame_index=frame_index,
        objects=tuple(objects),
        pending_order=tuple(pending),
        maskmem_pos_enc=None if maskmem_pos_enc is None else tuple(exact(p) for p in maskmem_pos_enc),
        next_object_id=max(ids) + 1 if ids else 0,
        epoch=last_record.epoch if last_record is not None else 0,
        last_source_index=last_record.index if last_record is not None else None,
        last_size=last_size,
        last_frame=frame,
        last_batch_sizes=tuple(last_batch_sizes),
        dtype="float16" if half else "float32",
        extra=extra_json,
    )
