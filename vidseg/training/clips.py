"""Training clips: short runs of frames from annotated videos, with one or more target objects each.

Videos are preloaded and resized once to the model's square input (frames bilinear, as the
tracker's preprocessing does; labels nearest). A batch holds C clips of T frames, frame-major
(the image encoder runs once on all T*C frames), and N >= C tracks: each track is one target
object of one clip, prompted on the clip's first frame. Several tracks of one clip share its
images, as SAM 2's training does, so the model learns to follow the prompted object and not
whichever object is most salient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from vidseg.errors import InputError
from vidseg.models.tracking.preprocess import IMAGE_MEAN, IMAGE_STD

PROMPT_KINDS = ("click", "box", "mask")


@dataclass(frozen=True)
class TrainVideo:
    """One annotated video at the model's input size.

    Attributes:
        name: the video's name.
        frames: (T, S, S, 3) uint8 RGB.
        labels: (T, S, S) uint8 instance ids (0 = background; 255 = void, never a target).
    """

    name: str
    frames: npt.NDArray[np.uint8]
    labels: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        t, h, w = self.labels.shape
        if self.frames.shape != (t, h, w, 3) or h != w:
            raise InputError(
                f"video {self.name}: expected square frames (T, S, S, 3) matching labels (T, S, S); "
                f"found frames {self.frames.shape}, labels {self.labels.shape}"
            )

    @classmethod
    def resized(cls, name: str, frames: npt.NDArray[np.uint8], labels: npt.NDArray[np.uint8], size: int) -> TrainVideo:
        """Resize (T, H, W, 3) frames and (T, H, W) labels to ``size`` x ``size``."""
        if frames.shape[1:3] == (size, size):
            return cls(name, np.ascontiguousarray(frames), np.ascontiguousarray(labels))
        out_frames = np.stack([np.array(Image.fromarray(f).resize((size, size))) for f in frames])
        out_labels = np.stack([cv2.resize(lab, (size, size), interpolation=cv2.INTER_NEAREST) for lab in labels])
        return cls(name, out_frames, out_labels)

    @property
    def num_frames(self) -> int:
        return int(self.labels.shape[0])

    def object_ids(self, t: int) -> list[int]:
        ids = np.unique(self.labels[t])
        return [int(i) for i in ids if 0 < i < 255]


@dataclass(frozen=True)
class FirstFramePrompt:
    """The prompt of every track in a batch, on its clip's first frame (one kind per batch).

    Attributes:
        kind: ``"click"``, ``"box"`` or ``"mask"``.
        points: (N, P, 2) float32 (x, y) in model pixels, or None for a mask prompt.
        point_labels: (N, P) int32 (1 positive, 0 negative, 2/3 box corners), or None.
        mask: (N, 1, S, S) float32, or None unless ``kind == "mask"``.
    """

    kind: str
    points: torch.Tensor | None
    point_labels: torch.Tensor | None
    mask: torch.Tensor | None

    def to(self, device: torch.device) -> FirstFramePrompt:
        """This prompt with its tensors on ``device``."""

        def move(x: torch.Tensor | None) -> torch.Tensor | None:
            return None if x is None else x.to(device)

        return FirstFramePrompt(self.kind, move(self.points), move(self.point_labels), move(self.mask))

    def point_inputs(self) -> dict[str, torch.Tensor] | None:
        """SAM 2's ``point_inputs`` dict, or None for a mask prompt."""
        if self.points is None or self.point_labels is None:
            return None
        return {"point_coords": self.points, "point_labels": self.point_labels}


@dataclass(frozen=True)
class ClipBatch:
    """C clips of T frames and N tracks (target objects) on them.

    Attributes:
        images: (T*C, 3, S, S) float32 normalised, frame-major (frame t of clip c at t*C + c).
        targets: (T, N, S, S) float32 0/1 masks of each track's target.
        prompt: the first-frame prompt of every track.
        track_clips: (N,) int64, the clip each track runs on.
        names: each track's video name (for logs).
    """

    images: torch.Tensor
    targets: torch.Tensor
    prompt: FirstFramePrompt
    track_clips: torch.Tensor
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        t, n = self.targets.shape[:2]
        clips = self.images.shape[0] // max(1, t)
        ok = (
            self.images.shape[0] == t * clips
            and self.track_clips.shape == (n,)
            and not self.track_clips.is_floating_point()
            and bool(((self.track_clips >= 0) & (self.track_clips < clips)).all())
            and len(self.names) == n
        )
        if not ok:
            raise InputError(
                f"inconsistent clip batch: expected T*C images, N tracks with clip indices in [0, C) and N names; "
                f"found {self.images.shape[0]} images for T={t}, track_clips {self.track_clips.tolist()}, "
                f"{len(self.names)} names for N={n}"
            )

    @classmethod
    def single(
        cls, images: torch.Tensor, targets: torch.Tensor, prompt: FirstFramePrompt, names: tuple[str, ...]
    ) -> ClipBatch:
        """A batch with one track per clip (track b on clip b)."""
        return cls(images, targets, prompt, torch.arange(targets.shape[1]), names)

    @property
    def num_frames(self) -> int:
        return int(self.targets.shape[0])

    @property
    def num_clips(self) -> int:
        return int(self.images.shape[0]) // self.num_frames

    @property
    def batch_size(self) -> int:
        """The number of tracks, N."""
        return int(self.targets.shape[1])


def normalise(frames: npt.NDArray[np.uint8]) -> torch.Tensor:
    """(N, S, S, 3) uint8 RGB -> (N, 3, S, S) float32 with ImageNet statistics, as the tracker does."""
    scaled = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous().to(torch.float32) / 255.0
    return (scaled - IMAGE_MEAN) / IMAGE_STD


def sample_click(mask: npt.NDArray[np.bool_], rng: np.random.Generator) -> tuple[float, float]:
    """A uniformly random point inside ``mask`` as (x, y) model pixels (any pixel can be clicked)."""
    ys, xs = np.nonzero(mask)
    k = int(rng.integers(xs.size))
    return float(xs[k]) + float(rng.random()), float(ys[k]) + float(rng.random())


def sample_box(mask: npt.NDArray[np.bool_], rng: np.random.Generator, noise: float = 0.1) -> np.ndarray:
    """The tight box of ``mask`` (x1, y1, x2, y2) with each side jittered by ``noise`` x its length."""
    ys, xs = np.nonzero(mask)
    box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32)
    w, h = box[2] - box[0], box[3] - box[1]
    box += rng.normal(0.0, noise, 4).astype(np.float32) * np.array([w, h, w, h], dtype=np.float32)
    size = mask.shape[0]
    return np.clip(box, 0, size).astype(np.float32)


class ClipSampler:
    """Draws batches of clips with targets visible on the first frame.

    Args:
        videos: the training videos (all at the same size).
        clip_len: frames per clip (1 trains click-to-mask on single frames).
        batch_size: clips per batch.
        prompt_probs: probabilities of click, box and mask prompts (one kind per batch); single-frame
            clips never get mask prompts (SAM 2 would output the prompt itself, teaching nothing).
        min_area: fewest target pixels on a clip's first frame.
        flip: mirror clips left-right at random.
        objects_per_clip: at most this many of a clip's objects (visible on its first frame, in
            random order) become tracks; 1 keeps one random target per clip.
    """

    def __init__(
        self,
        videos: Sequence[TrainVideo],
        clip_len: int,
        batch_size: int,
        prompt_probs: tuple[float, float, float] = (0.7, 0.2, 0.1),
        min_area: int = 12,
        flip: bool = True,
        objects_per_clip: int = 1,
    ) -> None:
        if not videos:
            raise InputError("no training videos: expected at least one annotated video")
        sizes = {v.labels.shape[1] for v in videos}
        if len(sizes) != 1:
            raise InputError(f"training videos must share one size; found sizes {sorted(sizes)}")
        self.size = sizes.pop()
        usable = [v for v in videos if v.num_frames >= clip_len]
        if not usable:
            longest = max(v.num_frames for v in videos)
            raise InputError(f"clip length {clip_len} exceeds every video (the longest has {longest} frames)")
        if clip_len < 1 or batch_size < 1 or objects_per_clip < 1:
            raise InputError(
                f"clip_len, batch_size and objects_per_clip must be >= 1; found {clip_len}, {batch_size}, "
                f"{objects_per_clip}"
            )
        probs = np.asarray(prompt_probs, dtype=np.float64)
        if probs.shape != (3,) or (probs < 0).any() or probs.sum() <= 0:
            raise InputError(f"prompt_probs must be 3 non-negative weights (click, box, mask); found {prompt_probs}")
        if clip_len == 1:
            # SAM 2 outputs a mask prompt as is: on a single frame there would be nothing to learn.
            probs = np.array([probs[0], probs[1], 0.0])
            if probs.sum() <= 0:
                raise InputError(
                    "single-frame clips (clip_len 1) need click or box prompts; prompt_probs gives only masks"
                )
        self._videos = usable
        self._clip_len = clip_len
        self._batch = batch_size
        self._probs = probs / probs.sum()
        self._min_area = min_area
        self._flip = flip
        self._objects = objects_per_clip

    def _pick(self, rng: np.random.Generator) -> tuple[TrainVideo, int, list[int]]:
        for _ in range(1000):
            video = self._videos[int(rng.integers(len(self._videos)))]
            start = int(rng.integers(video.num_frames - self._clip_len + 1))
            ids = [i for i in video.object_ids(start) if np.count_nonzero(video.labels[start] == i) >= self._min_area]
            if ids:
                return video, start, [ids[k] for k in rng.permutation(len(ids))[: self._objects]]
        raise InputError(
            f"found no clip whose first frame shows an object of at least {self._min_area} pixels after 1000 "
            "draws; check the annotations (0 = background, ids 1..254)"
        )

    def sample(self, rng: np.random.Generator) -> ClipBatch:
        """One batch: C clips, the target masks of their tracks, and one kind of first-frame prompt."""
        frames, targets, track_clips, names = [], [], [], []
        for c in range(self._batch):
            video, start, objs = self._pick(rng)
            clip = video.frames[start : start + self._clip_len]
            labels = video.labels[start : start + self._clip_len]
            if self._flip and rng.random() < 0.5:
                clip, labels = clip[:, :, ::-1], labels[:, :, ::-1]
            frames.append(clip)
            for obj in objs:
                targets.append(labels == obj)
                track_clips.append(c)
                names.append(video.name)
        clips = np.stack(frames, axis=1)  # (T, C, S, S, 3): frame-major
        target = np.stack(targets, axis=1)  # (T, N, S, S)
        t, c = clips.shape[:2]
        images = normalise(clips.reshape(t * c, self.size, self.size, 3))
        kind = PROMPT_KINDS[int(rng.choice(3, p=self._probs))]
        prompt = make_prompt(kind, target[0], rng)
        return ClipBatch(
            images, torch.from_numpy(target.astype(np.float32)), prompt, torch.tensor(track_clips), tuple(names)
        )


def make_prompt(kind: str, first: npt.NDArray[np.bool_], rng: np.random.Generator) -> FirstFramePrompt:
    """A ``kind`` prompt for each (S, S) target mask in ``first`` (B, S, S)."""
    if kind == "click":
        points = np.array([[sample_click(m, rng)] for m in first], dtype=np.float32)
        labels = np.ones((len(first), 1), dtype=np.int32)
        return FirstFramePrompt(kind, torch.from_numpy(points), torch.from_numpy(labels), None)
    if kind == "box":
        boxes = np.stack([sample_box(m, rng) for m in first]).reshape(-1, 2, 2)
        labels = np.tile(np.array([[2, 3]], dtype=np.int32), (len(first), 1))
        return FirstFramePrompt(kind, torch.from_numpy(boxes), torch.from_numpy(labels), None)
    if kind == "mask":
        mask = torch.from_numpy(first.astype(np.float32))[:, None]
        return FirstFramePrompt(kind, None, None, mask)
    raise InputError(f"unknown prompt kind {kind!r}; expected one of {PROMPT_KINDS}")
