"""The DAVIS folder layout: write generated clips into it, and read clips (generated, or the real
DAVIS 2017 release) back into memory.

::

    root/JPEGImages[/480p]/<name>/00000.jpg ...   RGB frames
    root/Annotations[/480p]/<name>/00000.png ...  palette PNGs, pixel index = object id (0 = background)
    root/SemanticAnnotations/<name>/00000.png ... palette PNGs, pixel index = class id (written here for
                                                  generated clips; ``vidseg train semantic`` reads them)
    root/ImageSets[/2017]/<split>.txt             video names, one per line
    root/meta.json                                written here: generator specs, seeds, classes, vidseg version

The resolution level (``480p`` in the DAVIS 2017 release) is used when present. A missing folder
raises :class:`~vidseg.errors.SourceNotFoundError` (also a ``FileNotFoundError``); folders whose
contents do not match (frame counts, sizes, label format) raise :class:`~vidseg.errors.InputError`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from vidseg.datasets.synthetic_videos import SHAPE_CLASSES, LabelArray, SyntheticVideo, VideoSpec, generate_video
from vidseg.errors import InputError, SinkError, SourceNotFoundError
from vidseg.formats.davis import DavisWriter
from vidseg.progress import Progress
from vidseg.types import ImageArray
from vidseg.version import __version__

log = logging.getLogger(__name__)

SEMANTIC_ANNOTATIONS = "SemanticAnnotations"
"""The folder of class-id label maps (one palette PNG per frame, pixel index = class id)."""

RESOLUTION = "480p"
"""The resolution level used when a dataset has one (DAVIS 2017: ``JPEGImages/480p/<name>``)."""

_FRAME_SUFFIXES = (".jpg", ".jpeg")


@dataclass(frozen=True, eq=False)
class DavisVideo:
    """One video of a DAVIS-layout dataset, in memory.

    Attributes:
        name: the video's folder name.
        frames: (T, H, W, 3) uint8 RGB.
        labels: (T, H, W) uint8 object ids per pixel (0 = background).
        frame_names: the T file stems, in order (``"00000"``, ...).
    """

    name: str
    frames: ImageArray
    labels: LabelArray
    frame_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[3] != 3 or self.frames.dtype != np.uint8:
            raise InputError(
                f"frames must be a (T, H, W, 3) uint8 array; found {self.frames.shape} {self.frames.dtype}"
            )
        if self.labels.shape != self.frames.shape[:3] or self.labels.dtype != np.uint8:
            raise InputError(
                f"labels must be a {self.frames.shape[:3]} uint8 array like the frames; "
                f"found {self.labels.shape} {self.labels.dtype}"
            )
        if len(self.frame_names) != self.frames.shape[0]:
            raise InputError(f"expected {self.frames.shape[0]} frame names; found {len(self.frame_names)}")

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def object_ids(self) -> tuple[int, ...]:
        """The ids present on any frame, ascending."""
        return tuple(int(i) for i in np.flatnonzero(np.bincount(self.labels.ravel(), minlength=256)[1:]) + 1)


def video_name(seed: int) -> str:
    """The folder name of the generated video of ``seed``: ``synth_00042``."""
    return f"synth_{seed:05d}"


# --- writing --------------------------------------------------------------------------------------


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0]
    if bad:
        raise InputError(f"seeds must be integers >= 0; found {bad[:5]}")
    values = [int(s) for s in seeds]
    repeated = sorted({s for s in values if values.count(s) > 1}) if len(set(values)) != len(values) else []
    if repeated:
        raise InputError(f"seeds must be distinct (each names a video); found repeats {repeated[:5]}")
    return values


def _write_text(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so readers never see a half-written file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _write_video(root: Path, name: str, video: SyntheticVideo, jpeg_quality: int) -> None:
    image_dir, label_dir = root / "JPEGImages" / name, root / "Annotations" / name
    class_dir = root / SEMANTIC_ANNOTATIONS / name
    for folder in (image_dir, label_dir, class_dir):
        if folder.is_dir():  # overwrite: drop frames of an older, longer clip
            for stale in [*folder.glob("*.jpg"), *folder.glob("*.png")]:
                stale.unlink()
    image_dir.mkdir(parents=True, exist_ok=True)
    labels, classes = DavisWriter(label_dir), DavisWriter(class_dir)
    for t in range(video.num_frames):
        Image.fromarray(video.frames[t]).save(image_dir / f"{t:05d}.jpg", quality=jpeg_quality, subsampling=0)
        labels.write(video.labels[t], t)
        classes.write(video.class_labels[t], t)
    labels.close()
    classes.close()


def _record(root: Path, split: str, spec: VideoSpec, videos: dict[str, Any]) -> None:
    """Add the split's names to ``ImageSets/<split>.txt`` and its videos to ``meta.json``."""
    image_sets = root / "ImageSets"
    image_sets.mkdir(parents=True, exist_ok=True)
    listing = image_sets / f"{split}.txt"
    names = listing.read_text(encoding="utf-8").split() if listing.is_file() else []
    names += [name for name in videos if name not in names]
    _write_text(listing, "".join(f"{name}\n" for name in names))

    meta_path = root / "meta.json"
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{meta_path} is not valid JSON ({exc}); remove it or write to another root") from exc
    specs: list[dict[str, Any]] = meta.get("specs", [])
    if spec.to_dict() not in specs:
        specs.append(spec.to_dict())
    for entry in videos.values():
        entry["spec"] = specs.index(spec.to_dict())
    splits: dict[str, Any] = meta.get("splits", {})
    splits.setdefault(split, {}).update(videos)
    meta.update(
        generator="vidseg.datasets.synthetic_videos.generate_video",
        vidseg_version=__version__,
        classes={str(class_id): name for class_id, name in SHAPE_CLASSES.items()},
        specs=specs,
        splits=splits,
    )
    _write_text(meta_path, json.dumps(meta, indent=1) + "\n")


def write_davis_dataset(
    root: str | Path,
    seeds: Sequence[int],
    spec: VideoSpec | None = None,
    *,
    split: str = "train",
    jpeg_quality: int = 95,
    overwrite: bool = False,
    progress: bool = True,
) -> list[str]:
    """Generate one clip per seed and write them in the DAVIS layout under ``root``.

    Each video is written to ``JPEGImages/<name>/`` (JPEG frames, without chroma subsampling: fine
    textures of small frames would otherwise bleed), ``Annotations/<name>/`` (palette PNGs, index =
    instance id) and ``SemanticAnnotations/<name>/`` (palette PNGs, index = shape class) with
    ``name = synth_<seed:05d>``; the names are added to
    ``ImageSets/<split>.txt``, and the spec, seeds and per-object classes to ``meta.json``. Several
    calls (e.g. a ``train`` and a ``val`` split, or several difficulties) can share one root.

    Args:
        root: the dataset folder (created if missing).
        seeds: distinct integers >= 0, one per video.
        spec: the generator's knobs (default: ``VideoSpec()``).
        split: the image set to list the videos in.
        jpeg_quality: quality of the JPEG frames, 1..100.
        overwrite: replace videos of the same names; otherwise finding one is an error.
        progress: report videos done, rate and ETA (a terminal line, else a log line every 10 s).

    Returns:
        The video names, in seed order.

    Raises:
        InputError: bad seeds or quality, or an unreadable ``meta.json``.
        SinkError: a video already exists (and ``overwrite`` is False), or a file cannot be written.
    """
    spec = VideoSpec() if spec is None else spec
    values = _check_seeds(seeds)
    if not 1 <= jpeg_quality <= 100:
        raise InputError(f"jpeg_quality must be 1..100; found {jpeg_quality}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", split):
        raise InputError(f"split must be a plain file name (letters, digits, _ . -); found {split!r}")
    root = Path(root)
    names = [video_name(seed) for seed in values]
    if not overwrite:
        existing = [
            name for name in names if (root / "JPEGImages" / name).exists() or (root / "Annotations" / name).exists()
        ]
        if existing:
            raise SinkError(
                f"{len(existing)} of the videos already exist under {root} (e.g. {existing[0]}); "
                "pass overwrite=True to replace them, or write to another root"
            )
    meter = Progress(len(values), label="videos") if progress else None
    videos: dict[str, Any] = {}
    try:
        for seed, name in zip(values, names, strict=True):
            video = generate_video(seed, spec)
            _write_video(root, name, video, jpeg_quality)
            videos[name] = {"seed": seed, "objects": {str(k): v for k, v in video.object_classes.items()}}
            if meter is not None:
                meter.update()
        _record(root, split, spec, videos)
    except OSError as exc:
        raise SinkError(f"cannot write the dataset under {root}: {exc}") from exc
    if meter is not None:
        meter.finish()
    log.info("wrote %d videos (%s) to %s", len(names), split, root)
    return names


# --- reading --------------------------------------------------------------------------------------


def _root(root: str | Path) -> Path:
    path = Path(root)
    if not (path / "JPEGImages").is_dir():
        what = "does not exist" if not path.exists() else "has no JPEGImages/ folder"
        raise SourceNotFoundError(
            f"dataset root {path} {what}; expected a DAVIS-layout folder with JPEGImages/ and Annotations/ "
            "(write one with vidseg.datasets.write_davis_dataset, or point at an unpacked DAVIS release)"
        )
    return path


def _level(root: Path, kind: str, resolution: str | None) -> Path:
    """``root/kind``, or its resolution level: the given one, else ``480p`` when present."""
    base = root / kind
    if resolution is not None:
        if not (base / resolution).is_dir():
            levels = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
            raise SourceNotFoundError(f"{base / resolution} does not exist; folders in {base}: {levels[:10]}")
        return base / resolution
    return base / RESOLUTION if (base / RESOLUTION).is_dir() else base


def _natural(path: Path) -> tuple[int, str]:
    digits = re.findall(r"\d+", path.stem)
    return (int(digits[-1]) if digits else -1, path.name)


def list_videos(root: str | Path, split: str | None = None, resolution: str | None = None) -> list[str]:
    """Video names of a DAVIS-layout dataset.

    Args:
        root: the dataset folder.
        split: read ``ImageSets/<split>.txt`` (or the newest ``ImageSets/<year>/<split>.txt``, as in
            DAVIS 2017); None lists every folder of ``JPEGImages``, sorted.
        resolution: the resolution level (default: ``480p`` when present, else none).

    Raises:
        SourceNotFoundError: no such dataset, resolution level or image set.
    """
    path = _root(root)
    if split is None:
        return sorted(p.name for p in _level(path, "JPEGImages", resolution).iterdir() if p.is_dir())
    image_sets = path / "ImageSets"
    candidates = [image_sets / f"{split}.txt", *sorted(image_sets.glob(f"*/{split}.txt"), reverse=True)]
    for listing in candidates:
        if listing.is_file():
            return [line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
    found = sorted(str(p.relative_to(image_sets)) for p in image_sets.rglob("*.txt")) if image_sets.is_dir() else []
    raise SourceNotFoundError(
        f"no image set for split {split!r}: expected {image_sets / f'{split}.txt'}; found {found[:10] or 'none'}. "
        "Pass split=None to list every video folder."
    )


def _read(path: Path, mode: str) -> np.ndarray:
    try:
        with Image.open(path) as image:
            if mode == "RGB":
                return np.asarray(image.convert("RGB"))
            if image.mode not in ("P", "L"):
                raise InputError(
                    f"{path}: expected a palette (mode P) or grayscale PNG whose pixel values are object ids; "
                    f"found mode {image.mode}. Convert colour annotations to indexed PNGs first."
                )
            return np.asarray(image)
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"cannot read {path}: {exc}; the file is damaged or not an image") from exc


def load_video(
    root: str | Path, name: str, resolution: str | None = None, annotations_dir: str = "Annotations"
) -> DavisVideo:
    """Read one video's frames and label maps into memory.

    Args:
        root: the dataset folder.
        name: the video's folder name (see :func:`list_videos`).
        resolution: the resolution level (default: ``480p`` when present, else none).
        annotations_dir: the folder of label maps: ``Annotations`` (instance ids) or
            :data:`SEMANTIC_ANNOTATIONS` (class ids).

    Raises:
        SourceNotFoundError: no such dataset or video, or the video has no annotation folder.
        InputError: frames and annotations do not pair up by name, sizes differ, or a file is
            unreadable or not an indexed PNG.
    """
    path = _root(root)
    image_dir = _level(path, "JPEGImages", resolution) / name
    label_dir = _level(path, annotations_dir, resolution) / name
    if not image_dir.is_dir():
        known = list_videos(path, resolution=resolution)
        raise SourceNotFoundError(
            f"video {name!r} not found: {image_dir} does not exist; this dataset has {len(known)} videos, "
            f"e.g. {known[:3]} (see list_videos)"
        )
    if not label_dir.is_dir():
        raise SourceNotFoundError(
            f"video {name!r} has frames but no annotations: expected {label_dir} with one PNG per frame"
        )
    images = sorted((p for p in image_dir.iterdir() if p.suffix.lower() in _FRAME_SUFFIXES), key=_natural)
    annotations = {p.stem: p for p in label_dir.glob("*.png")}
    stems = [p.stem for p in images]
    if not images or len(images) != len(annotations) or set(stems) != set(annotations):
        unlabelled = sorted(set(stems) - set(annotations))[:3]
        orphans = sorted(set(annotations) - set(stems))[:3]
        raise InputError(
            f"video {name!r}: found {len(images)} JPEG frames in {image_dir} and {len(annotations)} PNG annotations "
            f"in {label_dir}; expected one PNG per frame with the same name (frames without a PNG: {unlabelled}, "
            f"PNGs without a frame: {orphans}). Regenerate the video or remove the unmatched files."
        )
    first = _read(images[0], "RGB")
    height, width = first.shape[:2]
    frames = np.empty((len(images), height, width, 3), np.uint8)
    labels = np.empty((len(images), height, width), np.uint8)
    for t, image_path in enumerate(images):
        for array, source, mode in ((frames, image_path, "RGB"), (labels, annotations[image_path.stem], "ids")):
            data = first if t == 0 and mode == "RGB" else _read(source, mode)
            if data.shape[:2] != (height, width):
                raise InputError(
                    f"{source}: size {data.shape[1]}x{data.shape[0]}, expected {width}x{height} like {images[0]}; "
                    "every frame and annotation of a video must have the same size"
                )
            array[t] = data
    return DavisVideo(name, frames, labels, tuple(stems))


def load_dataset(
    root: str | Path, split: str | None = None, names: Sequence[str] | None = None, resolution: str | None = None
) -> list[DavisVideo]:
    """Preload videos into memory: ``names``, else those of ``split``, else all (see :func:`list_videos`)."""
    chosen = list(names) if names is not None else list_videos(root, split, resolution)
    meter = Progress(len(chosen), label="videos loaded")
    videos = []
    for name in chosen:
        videos.append(load_video(root, name, resolution))
        meter.update()
    return videos
