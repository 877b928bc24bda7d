"""Which frames each denoising window holds, and that layout saved beside a video as a small JSON file.

Frame 0 of the sequence is the reference image itself and belongs to every window, so each window sees
the reference next to N - 1 consecutive driving frames (`plan_windows`, the released layout).

A long video is denoised in overlapping windows; where the set of windows that covers a frame
changes, seams can appear (the paper's Fig. 9). The temporal metrics need to know where those
places are, so the generation side writes, next to each output video `X.mp4`, a file
`X.windows.json`:

    {
      "format": "mimicmotion.windows",
      "version": 1,
      "num_frames": 40,                       # F, generated frames, reference frame 0 included
      "windows": [[0, 1, 2, ...], ...],       # indices of generated frames, one list per window
      "dropped_first_frame": true,            # frame 0 (the reference) is not in the video
      ...                                     # optional extra facts (tile_size, fusion, ...)
    }

Indices refer to the generated sequence. When `dropped_first_frame` is true, video frame v is
generated frame v + 1. Readers ignore keys they do not know, so the generation side may add
facts such as the window size, the overlap or the fusion strategy.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mimicmotion.errors import MimicMotionError

FORMAT = "mimicmotion.windows"
VERSION = 1
SUFFIX = ".windows.json"


def plan_windows(num_frames: int, tile_size: int, tile_overlap: int) -> list[list[int]]:
    """Frame indices of every window, in the layout of the released sampler.

    Window starts are i = 0, N - C, 2(N - C), ... while i <= F - N; the window at i covers
    [0, i + 1, ..., i + N - 1], so adjacent windows share frame 0 and C - 1 driving frames. When
    the last window stops short of frame F - 1, one more window [0, F - N + 1, ..., F - 1] is added;
    it may share more than C frames with its neighbour. With F <= N there is a single window.
    """
    if num_frames < 1:
        raise MimicMotionError(f"need at least one frame, got {num_frames}")
    if tile_size < 2:
        raise MimicMotionError(
            f"tile_size must be at least 2 (the reference frame plus one driving frame), got {tile_size}"
        )
    # The overlap counts the shared reference frame 0: C = 1 means windows share no driving frame,
    # C = 0 would skip one driving frame between windows.
    max_overlap = (tile_size + 1) // 2
    if not 1 <= tile_overlap <= max_overlap:
        raise MimicMotionError(
            f"tile_overlap must be between 1 and {max_overlap} for tile_size {tile_size}, got "
            f"{tile_overlap}: a larger overlap makes three windows share a frame, a smaller one skips "
            "frames (the overlap counts the reference frame 0 that every window shares)"
        )
    if num_frames <= tile_size:
        return [list(range(num_frames))]
    step = tile_size - tile_overlap
    windows = [[0, *range(i + 1, i + tile_size)] for i in range(0, num_frames - tile_size + 1, step)]
    if windows[-1][-1] < num_frames - 1:
        windows.append([0, *range(num_frames - tile_size + 1, num_frames)])
    return windows


@dataclass(frozen=True)
class WindowLayout:
    """Which generated frames each denoising window covered."""

    num_frames: int
    windows: tuple[tuple[int, ...], ...]
    dropped_first_frame: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def num_video_frames(self) -> int:
        """Frames in the written video."""
        return self.num_frames - 1 if self.dropped_first_frame else self.num_frames

    def boundary_transitions(self, num_video_frames: int | None = None) -> np.ndarray:
        """Boolean mask over the video's transitions t -> t+1 (length num_video_frames - 1).

        A transition is a boundary when the set of windows covering video frame t differs from
        the set covering video frame t + 1: a window starts or ends there. `num_video_frames`
        defaults to the whole video; a shorter count looks at a prefix.
        """
        count = self.num_video_frames if num_video_frames is None else num_video_frames
        if count > self.num_video_frames:
            raise MimicMotionError(
                f"the video has {count} frames but its window layout describes only "
                f"{self.num_video_frames}: the layout belongs to another video"
            )
        offset = 1 if self.dropped_first_frame else 0
        covering: dict[int, set[int]] = {}
        for index, window in enumerate(self.windows):
            for frame in window:
                covering.setdefault(frame, set()).add(index)
        covers = [covering.get(video_frame + offset, set()) for video_frame in range(count)]
        return np.array([a != b for a, b in itertools.pairwise(covers)], dtype=bool)


def window_layout_path(video_path: str | os.PathLike) -> Path:
    """Where the layout of `video_path` lives: `X.mp4` -> `X.windows.json` (a folder `X/` too)."""
    video_path = Path(video_path)
    stem = video_path.name if video_path.is_dir() else video_path.stem
    return video_path.with_name(stem + SUFFIX)


def make_window_layout(
    windows: Sequence[Sequence[int]],
    num_frames: int,
    *,
    dropped_first_frame: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> WindowLayout:
    """A checked layout from in-memory windows (ints, numpy or 0-d tensor indices)."""
    return _validated(
        num_frames=int(num_frames),
        windows=tuple(tuple(int(i) for i in window) for window in windows),
        dropped_first_frame=bool(dropped_first_frame),
        extra=dict(extra or {}),
        source="window layout",
    )


def save_window_layout(
    path: str | os.PathLike,
    windows: Sequence[Sequence[int]],
    num_frames: int,
    *,
    dropped_first_frame: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a layout JSON to `path` (use `window_layout_path(video)` to name it) atomically.

    `windows` may hold ints, numpy integers or 0-d tensors; `extra` adds JSON-serialisable facts
    (e.g. {"tile_size": 16, "tile_overlap": 6, "fusion": "progressive"}).
    """
    layout = make_window_layout(windows, num_frames, dropped_first_frame=dropped_first_frame, extra=extra)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "num_frames": layout.num_frames,
        "windows": [list(window) for window in layout.windows],
        "dropped_first_frame": layout.dropped_first_frame,
        **layout.extra,
    }
    from mimicmotion.video import atomic_output  # PyAV; the window plan itself needs none of it

    with atomic_output(path) as temp:
        temp.write_text(json.dumps(document) + "\n", encoding="utf-8")  # one line: windows are long
    return Path(path)


def load_window_layout(path: str | os.PathLike) -> WindowLayout:
    """Read and check a layout JSON written by `save_window_layout`."""
    path = Path(path)
    if not path.is_file():
        raise MimicMotionError(f"window layout not found: {path}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MimicMotionError(f"cannot read window layout {path}: {error}") from None
    if not isinstance(document, dict) or "windows" not in document or "num_frames" not in document:
        raise MimicMotionError(f"{path} is not a window layout: it needs 'num_frames' and 'windows'")
    if document.get("format", FORMAT) != FORMAT or document.get("version", VERSION) > VERSION:
        raise MimicMotionError(
            f"{path} has format {document.get('format')!r} version {document.get('version')}; "
            f"this version reads {FORMAT!r} up to version {VERSION}"
        )
    try:
        windows = tuple(tuple(_as_index(i) for i in window) for window in document["windows"])
        num_frames = _as_index(document["num_frames"])
    except (TypeError, ValueError):
        raise MimicMotionError(f"{path}: 'windows' must be lists of frame indices") from None
    known = {"format", "version", "num_frames", "windows", "dropped_first_frame"}
    return _validated(
        num_frames=num_frames,
        windows=windows,
        dropped_first_frame=bool(document.get("dropped_first_frame", True)),
        extra={key: value for key, value in document.items() if key not in known},
        source=str(path),
    )


def find_window_layout(video_path: str | os.PathLike) -> WindowLayout | None:
    """The layout saved beside `video_path`, or None when there is none."""
    path = window_layout_path(video_path)
    return load_window_layout(path) if path.is_file() else None


def _as_index(value: Any) -> int:
    # JSON numbers like 3.0 or true would pass int(); a frame index must be a plain integer.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"not an integer: {value!r}")
    return value


def _validated(
    num_frames: int,
    windows: tuple[tuple[int, ...], ...],
    dropped_first_frame: bool,
    extra: dict[str, Any],
    source: str,
) -> WindowLayout:
    minimum = 2 if dropped_first_frame else 1
    if num_frames < minimum:
        raise MimicMotionError(f"{source}: num_frames must be at least {minimum}, got {num_frames}")
    if not windows or any(not window for window in windows):
        raise MimicMotionError(f"{source}: a layout needs at least one non-empty window")
    outside = sorted({i for window in windows for i in window if not 0 <= i < num_frames})
    if outside:
        raise MimicMotionError(
            f"{source}: window frame indices {outside[:5]} are outside 0..{num_frames - 1}"
        )
    return WindowLayout(num_frames, windows, dropped_first_frame, extra)
