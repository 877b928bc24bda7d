"""Pictures of temporal behaviour: Y-T slices (the paper's Fig. 9) and frame-difference strips
(Fig. 5).

- Y-T slice: column x of every frame, stacked over time: an image of height H and width T whose
  pixel (row y, column t) is pixel (y, x) of frame t. A seam between windows shows as a vertical
  discontinuity.
- Frame-difference strip: thumbnails of |f_{t+1} - f_t| (mean over the channels, times a gain),
  side by side; flicker shows as bright texture in otherwise dark thumbnails.

Given a window layout, boundary transitions t -> t+1 are marked: a red tick under column t+1 of
the Y-T slice (in a strip of rows added below the slice), a red frame around the thumbnail.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from mimicmotion.errors import MimicMotionError
from mimicmotion.eval.prepare import resize
from mimicmotion.video import atomic_output, check_writable, iter_frames, probe_video
from mimicmotion.windows import WindowLayout

MARK = np.array([230, 30, 30], dtype=np.uint8)
UNMARKED = np.array([40, 40, 40], dtype=np.uint8)
MARK_ROWS = 6
GAP = 2
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def yt_slice(frames: Iterable[np.ndarray], x: int) -> np.ndarray:
    """(H, T, 3) image: column x of each frame as column t. Only one column per frame is kept."""
    columns = []
    for frame in frames:
        if not -frame.shape[1] <= x < frame.shape[1]:
            raise MimicMotionError(f"column {x} is outside the frame width {frame.shape[1]}")
        columns.append(frame[:, x].copy())
    if not columns:
        raise MimicMotionError("no frames to slice")
    return np.stack(columns, axis=1)


def mark_columns(image: np.ndarray, boundary: np.ndarray, time_scale: int = 1) -> np.ndarray:
    """Add MARK_ROWS rows below a (time-scaled) Y-T slice with a red tick under column t+1 for
    every boundary transition t -> t+1."""
    strip = np.empty((MARK_ROWS, image.shape[1], 3), dtype=np.uint8)
    strip[:] = UNMARKED
    for t in np.flatnonzero(boundary):
        strip[:, (t + 1) * time_scale : (t + 2) * time_scale] = MARK
    return np.concatenate([image, strip], axis=0)


def frame_difference_strip(
    frames: Iterable[np.ndarray],
    start: int = 0,
    count: int = 16,
    gain: float = 4.0,
    height: int = 160,
    boundary: np.ndarray | None = None,
) -> np.ndarray:
    """Thumbnails of |f_{t+1} - f_t| for transitions t = start .. start+count-1, left to right."""
    thumbnails = []
    previous = None
    for t, frame in enumerate(frames):
        if previous is not None and start <= t - 1:
            difference = np.abs(frame.astype(np.int16) - previous.astype(np.int16)).mean(axis=2)
            gray = np.clip(difference * gain, 0, 255).astype(np.uint8)
            marked = boundary is not None and t - 1 < len(boundary) and bool(boundary[t - 1])
            thumbnails.append(_thumbnail(gray, height, marked))
            if len(thumbnails) == count:
                break
        previous = frame
    if not thumbnails:
        raise MimicMotionError(f"the video has no frame transition at or after {start}")
    gap = np.full((thumbnails[0].shape[0], GAP, 3), 255, dtype=np.uint8)
    parts = [part for thumbnail in thumbnails for part in (thumbnail, gap)][:-1]
    return np.concatenate(parts, axis=1)


def _thumbnail(gray: np.ndarray, height: int, marked: bool) -> np.ndarray:
    width = max(1, round(gray.shape[1] * height / gray.shape[0]))
    rgb = resize(np.repeat(gray[:, :, None], 3, axis=2), width, height)
    if marked:
        border = max(2, height // 40)
        rgb = rgb.copy()
        rgb[:border], rgb[-border:], rgb[:, :border], rgb[:, -border:] = MARK, MARK, MARK, MARK
    return rgb


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an RGB uint8 image as PNG or JPEG (by suffix), atomically."""
    path = Path(path)
    image_format = IMAGE_FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise MimicMotionError(f"output image must end in {', '.join(IMAGE_FORMATS)}: {path}")
    with atomic_output(path) as temp:
        Image.fromarray(image).save(temp, format=image_format)
    return path


def plot_yt_slice(
    video: str | os.PathLike,
    out: str | os.PathLike,
    x: int | None = None,
    layout: WindowLayout | None = None,
    time_scale: int = 1,
    max_frames: int | None = None,
) -> Path:
    """Write the Y-T slice of `video` at column `x` (default: the middle column) to `out`."""
    check_writable(out)
    if time_scale < 1:
        raise MimicMotionError(f"time scale must be at least 1, got {time_scale}")
    info = probe_video(video)
    x = info.width // 2 if x is None else x
    # The layout is checked against the video before decoding it.
    frame_count = min(info.num_frames, max_frames or info.num_frames)
    boundary = layout.boundary_transitions(frame_count) if layout is not None else None
    image = yt_slice((frame for _, frame in iter_frames(video, max_frames=max_frames)), x)
    image = np.repeat(image, time_scale, axis=1)
    if boundary is not None:
        image = mark_columns(image, boundary[: image.shape[1] // time_scale - 1], time_scale)
    return write_image(out, image)


def plot_frame_differences(
    video: str | os.PathLike,
    out: str | os.PathLike,
    start: int = 0,
    count: int = 16,
    gain: float = 4.0,
    height: int = 160,
    layout: WindowLayout | None = None,
) -> Path:
    """Write a strip of frame-difference thumbnails of `video` to `out`."""
    check_writable(out)
    if start < 0 or count < 1 or height < 8 or gain <= 0:
        raise MimicMotionError("need start >= 0, count >= 1, height >= 8 and a positive gain")
    frames = (frame for _, frame in iter_frames(video, max_frames=start + count + 1))
    boundary = None
    if layout is not None:
        frame_count = min(probe_video(video).num_frames, start + count + 1)
        boundary = layout.boundary_transitions(frame_count)
    return write_image(out, frame_difference_strip(frames, start, count, gain, height, boundary))
