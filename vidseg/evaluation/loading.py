"""Reading predictions and ground truth for evaluation: DAVIS PNG folders and vidseg label videos.

A *sequence* is one of:

- a folder of PNG label maps (pixel value = object id: DAVIS annotations, ``vidseg run --davis``);
- a label video written by vidseg (``masks.mkv``), given as the file or as the folder holding it
  (a ``vidseg run --out`` folder).

A *collection* is a folder of sequences, the DAVIS ``Annotations/480p`` layout: ``<seq>/00000.png``
..., or ``<seq>.mkv``, or ``<seq>/masks.mkv``. Prediction and ground truth must both be one
sequence or both be collections; collections are matched by sequence name, and every ground-truth
sequence needs a prediction.

Frames are matched by file stem when both sides are PNG folders (``00042.png`` with
``00042.png``), else by their place in the source: the n-th PNG (natural name order) is source
frame n, and a label video's frame is placed by its time, ``round((time - start) x fps)``, with the
source's frame rate and start from the ``manifest.json`` beside ``masks.mkv`` (or ``fps`` given);
so a run made with ``--every 2`` or ``--start`` lines up with the ground truth. A video without
either is placed by order, with a warning. A ground-truth frame without a prediction counts as an
empty prediction, with a warning that names those frames.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vidseg.errors import InputError, SourceFormatError, SourceNotFoundError
from vidseg.evaluation.jf import FramePair, LabelArray
from vidseg.formats.label_video import read_label_video

log = logging.getLogger(__name__)

LABEL_VIDEO_NAME = "masks.mkv"
_PNG_MODES = ("P", "L", "1", "I", "I;16", "I;16L", "I;16B")
_LAYOUTS = (
    "a folder of PNG label maps, a label video (.mkv, or a folder holding masks.mkv), "
    "or a folder of such sequences (DAVIS Annotations/480p layout)"
)


class LabelFormat(str, Enum):
    """How a sequence's label maps are stored."""

    PNG = "png"
    VIDEO = "video"


def _natural_key(path: Path) -> tuple[int, str]:
    digits = re.findall(r"\d+", path.stem)
    return (int(digits[-1]) if digits else -1, path.name)


def _pngs(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted((p for p in folder.iterdir() if p.suffix.lower() == ".png" and p.is_file()), key=_natural_key))


def read_png_labels(path: Path) -> LabelArray:
    """The label map of an indexed (P) or grayscale (L, 1, I, I;16) PNG: pixel value = object id.

    Raises:
        SourceFormatError: the file is not a readable image.
        InputError: the image is a colour image, whose pixels are not ids.
    """
    try:
        with Image.open(path) as image:
            if image.mode not in _PNG_MODES:
                raise InputError(
                    f"{path} is a {image.mode} image; expected an indexed (P) or grayscale (L, I;16) PNG whose "
                    "pixel values are object ids, as DAVIS annotations and `vidseg run --davis` are. "
                    "Convert colour masks to id maps first"
                )
            labels = np.asarray(image)
    except (OSError, UnidentifiedImageError) as exc:
        raise SourceFormatError(f"cannot read {path} as a PNG label map: {exc}") from exc
    return labels.astype(np.uint8) if labels.dtype == np.bool_ else labels


@dataclass(frozen=True)
class LabelSequence:
    """One sequence of label maps on disk.

    Attributes:
        name: the sequence's name (its folder's name, or the video file's stem).
        path: the PNG folder, or the label video file.
        format: PNG folder or label video.
        pngs: the PNG files in natural name order (empty for a video).
    """

    name: str
    path: Path
    format: LabelFormat
    pngs: tuple[Path, ...] = ()
    fps: float | None = None  # a video's source frame rate, when known (places frames by time)
    start_time: float = 0.0  # a video's source start time

    def __post_init__(self) -> None:
        if (self.format is LabelFormat.PNG) != bool(self.pngs):
            raise InputError(f"sequence {self.name!r}: a PNG sequence needs PNG files, a video none")

    def with_fps(self, fps: float | None) -> LabelSequence:
        """This sequence with the source's frame rate: given, else from the run's ``manifest.json``."""
        if self.format is not LabelFormat.VIDEO:
            return self
        if fps is not None:
            return dataclasses.replace(self, fps=fps)
        manifest = self.path.parent / "manifest.json"
        try:
            source = json.loads(manifest.read_text())["source"]
            rate, start = source.get("fps"), float(source.get("start_time") or 0.0)
        except (OSError, ValueError, KeyError, TypeError):
            return self
        return dataclasses.replace(self, fps=float(rate), start_time=start) if rate else self

    def frames(self) -> Generator[tuple[str, LabelArray], None, None]:
        """(frame name, label map) in order; video frames are named by their place in the source."""
        for _, name, labels in self.placed_frames():
            yield name, labels

    def placed_frames(self) -> Generator[tuple[int, str, LabelArray], None, None]:
        """(place in the source, name, label map) in order: the n-th PNG is place n; a video frame
        is placed by its time when the frame rate is known, else by its index."""
        if self.format is LabelFormat.VIDEO:
            for index, frame in enumerate(read_label_video(self.path)):
                place = index
                if self.fps and frame.time is not None:
                    place = round((frame.time - self.start_time) * self.fps)
                yield place, f"{place:05d}", frame.labels
        else:
            for index, png in enumerate(self.pngs):
                yield index, png.stem, read_png_labels(png)


def _sequence_in(folder: Path, video_name: str = LABEL_VIDEO_NAME) -> LabelSequence | None:
    pngs = _pngs(folder)
    if pngs:
        return LabelSequence(folder.name, folder, LabelFormat.PNG, pngs)
    video = folder / video_name
    if video.is_file():
        return LabelSequence(folder.name, video, LabelFormat.VIDEO)
    return None


def _describe(folder: Path) -> str:
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    if not entries:
        return "an empty folder"
    shown = ", ".join(entries[:6]) + (", ..." if len(entries) > 6 else "")
    return f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} ({shown})"


def open_labels(
    path: str | Path, role: str = "input", video_name: str = LABEL_VIDEO_NAME
) -> LabelSequence | dict[str, LabelSequence]:
    """One sequence, or a collection of sequences by name, found at ``path``.

    Args:
        path: see the module docstring for the layouts.
        role: what the path is ("prediction", "ground truth"), for error messages.

    Raises:
        SourceNotFoundError: the path does not exist.
        InputError: the path holds none of the accepted layouts, or one sequence name twice.
    """
    where = Path(path)
    if not where.exists():
        raise SourceNotFoundError(f"{role} {where} does not exist; expected {_LAYOUTS}")
    if where.is_file():
        if where.suffix.lower() == ".png":
            raise InputError(
                f"{role} {where} is a single PNG; expected {_LAYOUTS}. Pass the folder that holds the sequence's PNGs"
            )
        return LabelSequence(where.stem, where, LabelFormat.VIDEO)
    single = _sequence_in(where, video_name)
    if single is not None:
        return single
    sequences: dict[str, LabelSequence] = {}
    for child in sorted(where.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            found = _sequence_in(child, video_name)
        elif child.suffix.lower() == ".mkv":
            found = LabelSequence(child.stem, child, LabelFormat.VIDEO)
        else:
            found = None
        if found is None:
            continue
        if found.name in sequences:
            raise InputError(
                f"{role} {where} holds sequence {found.name!r} twice ({sequences[found.name].path} and {found.path}); "
                "keep one of them"
            )
        sequences[found.name] = found
    if not sequences:
        raise InputError(f"{role} {where} holds no label maps; expected {_LAYOUTS}; found {_describe(where)}")
    return sequences


@dataclass(frozen=True)
class SequencePair:
    """A ground-truth sequence and the prediction for it."""

    name: str
    pred: LabelSequence
    gt: LabelSequence

    def frames(self) -> Iterator[FramePair]:
        """The ground truth's frames in order, each with its prediction (empty where there is none).

        Raises:
            InputError: a predicted frame's size differs from its ground truth's, or no predicted
                PNG is named like a ground-truth frame.
        """
        if self.pred.format is LabelFormat.PNG and self.gt.format is LabelFormat.PNG:
            return self._by_name()
        return self._by_order()

    def _pair(self, name: str, pred: LabelArray | None, gt: LabelArray) -> FramePair:
        if pred is None:
            return FramePair(name, np.zeros_like(gt), gt)
        if pred.shape != gt.shape:
            raise InputError(
                f"sequence {self.name!r}, frame {name}: the prediction ({self.pred.path}) is "
                f"{pred.shape[0]}x{pred.shape[1]} but the ground truth ({self.gt.path}) is {gt.shape[0]}x{gt.shape[1]} "
                "(height x width); write predictions at the ground truth's resolution"
            )
        return FramePair(name, pred, gt)

    def _warn_missing(self, missing: list[str], total: int) -> None:
        if missing:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            log.warning("sequence %s: %d of the %d ground-truth frames have no prediction (%s); "
                        "they count as empty predictions", self.name, len(missing), total, shown)  # fmt: skip

    def _by_name(self) -> Iterator[FramePair]:
        by_stem = {png.stem: png for png in self.pred.pngs}
        gt_stems = [png.stem for png in self.gt.pngs]
        if not by_stem.keys() & set(gt_stems):
            raise InputError(
                f"sequence {self.name!r}: none of the {len(by_stem)} prediction PNGs in {self.pred.path} "
                f"({self.pred.pngs[0].name}, ...) is named like a ground-truth frame ({self.gt.pngs[0].name}, ...); "
                "name each prediction after its ground-truth frame"
            )
        self._warn_missing([stem for stem in gt_stems if stem not in by_stem], len(gt_stems))
        for gt_png in self.gt.pngs:
            pred_png = by_stem.get(gt_png.stem)
            gt = read_png_labels(gt_png)
            yield self._pair(gt_png.stem, None if pred_png is None else read_png_labels(pred_png), gt)

    def _by_order(self) -> Iterator[FramePair]:
        """Ground truth and prediction merged by place in the source (see the module docstring)."""
        for side in (self.pred, self.gt):
            if side.format is LabelFormat.VIDEO and side.fps is None:
                log.warning("sequence %s: %s has no manifest.json with the source's frame rate beside it: its "
                            "frames are matched by order (give --fps to match them by time)", self.name, side.path)  # fmt: skip
        missing: list[str] = []
        total = 0
        extra = 0
        with contextlib.closing(self.pred.placed_frames()) as preds, contextlib.closing(self.gt.placed_frames()) as gts:
            pred = next(preds, None)
            for place, name, gt in gts:
                total += 1
                while pred is not None and pred[0] < place:  # a predicted frame the ground truth lacks
                    extra += 1
                    pred = next(preds, None)
                if pred is not None and pred[0] == place:
                    yield self._pair(name, pred[2], gt)
                    pred = next(preds, None)
                else:
                    missing.append(name)
                    yield self._pair(name, None, gt)
            extra += sum(1 for _ in preds) + (pred is not None)
        if extra:
            log.warning("sequence %s: %d predicted frame(s) match no ground-truth frame; they are ignored",
                        self.name, extra)  # fmt: skip
        self._warn_missing(missing, total)


def pair_sequences(
    pred_path: str | Path, gt_path: str | Path, fps: float | None = None, video_name: str = LABEL_VIDEO_NAME
) -> tuple[SequencePair, ...]:
    """Match the prediction's sequences with the ground truth's; ``fps``: the source's frame rate,
    to place label-video frames by time (default: from each run's ``manifest.json``).

    Raises:
        SourceNotFoundError: a path does not exist.
        InputError: one side is a single sequence and the other a collection, or a ground-truth
            sequence has no prediction.
    """
    gt = open_labels(gt_path, "ground truth", video_name)
    pred = open_labels(pred_path, "prediction", video_name)
    if isinstance(gt, LabelSequence):
        if not isinstance(pred, LabelSequence):
            raise InputError(
                f"ground truth {gt_path} is one sequence but prediction {pred_path} is a folder of {len(pred)} "
                f"sequences ({', '.join(list(pred)[:5])}); pass the prediction of that one sequence, "
                f"e.g. {Path(pred_path) / gt.name}"
            )
        return (SequencePair(gt.name, pred.with_fps(fps), gt.with_fps(fps)),)
    if isinstance(pred, LabelSequence):
        raise InputError(
            f"ground truth {gt_path} holds {len(gt)} sequences but prediction {pred_path} is one sequence; "
            "pass a prediction folder with one sub-folder (or .mkv) per sequence, or a single ground-truth sequence"
        )
    missing = [name for name in gt if name not in pred]
    if missing:
        shown = ", ".join(missing[:10]) + (", ..." if len(missing) > 10 else "")
        raise InputError(
            f"prediction {pred_path} lacks {len(missing)} of the {len(gt)} ground-truth sequences ({shown}); "
            f"expected one folder (or .mkv) per sequence, named as in {gt_path}"
        )
    extra = sorted(pred.keys() - gt.keys())
    if extra:
        log.info("ignoring %d predicted sequence(s) the ground truth lacks: %s", len(extra), ", ".join(extra[:10]))
    return tuple(SequencePair(name, pred[name].with_fps(fps), gt[name].with_fps(fps)) for name in gt)
