"""What the app's buttons run, without Gradio: the pose preview and the generation.

Both are the library's own paths (`mimicmotion.pose.build`, `mimicmotion.generation`) with the same
checks as `animate`; the generation reports its progress per stage through `Report` and stops when
`cancel` is set: between stages, after any denoising window and after any written frame. The files it
writes are written atomically into the job's hidden folder (`jobs.JobStore.running`), which is removed
when the job does not finish, so a cancelled job leaves nothing.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mimicmotion.app.jobs import RESULT, SIDE_BY_SIDE, STRIP
from mimicmotion.config import AnimateSettings

log = logging.getLogger("mimicmotion")

# report(stage, done, total, note): `done` of `total` units of the stage (total 0: not counted)
Report = Callable[[str, int, int, str], None]
POSE_VIDEO = "poses.mp4"
SKELETON = "reference_pose.png"
STRIP_WIDTH = 320  # the Y-T slice is stretched in time to about this many pixels


class Cancelled(Exception):
    """The person who started the job cancelled it."""


@dataclass(frozen=True)
class Preview:
    skeleton: Path  # the prepared reference with its detected skeleton drawn over it
    poses: Path  # the retargeted pose pictures as a video
    frames: int


@dataclass(frozen=True)
class Generated:
    result: Path
    side_by_side: Path
    strip: Path
    frames: int
    fps: float


def preview_poses(s: AnimateSettings, folder: Path) -> Preview:
    """Detect (or take from the pose cache), retarget and draw the poses `s` asks for, into `folder`."""
    from mimicmotion.animate import check_inputs
    from mimicmotion.eval.plots import write_image
    from mimicmotion.generation import write_video
    from mimicmotion.playback import output_fps
    from mimicmotion.pose import build_pose_frames
    from mimicmotion.video import read_image

    s = s.replace(out=folder / POSE_VIDEO)
    check_inputs(s)
    # the image rather than its path: messages then do not name the upload's temporary file
    reference, frames, poses = build_pose_frames(
        read_image(s.ref), s.driving, resolution=s.resolution, backend=s.pose_backend, retarget=s.retarget,
        style=s.pose_style, stride=s.stride, max_frames=s.max_frames, smooth=s.smooth,
        progress=not s.quiet, directory=folder, dwpose_dir=s.dwpose_dir,
    )  # fmt: skip
    with frames:
        write_image(folder / SKELETON, with_skeleton(reference, _picture(frames, 0)))
        count = len(poses) - 1
        pictures = (_picture(frames, index) for index in range(1, count + 1))
        write_video(folder / POSE_VIDEO, pictures, count, output_fps(s), progress=False)
    return Preview(folder / SKELETON, folder / POSE_VIDEO, count)


def with_skeleton(image: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """`image` with the drawn pose over it: the pose picture's coloured pixels replace the image's."""
    drawn = pose.max(axis=2, keepdims=True) > 0
    return np.where(drawn, pose, image // 2 + 32).astype(np.uint8)  # dimmed, so the skeleton stands out


def _picture(frames: Any, index: int) -> np.ndarray:
    return frames[index].permute(1, 2, 0).numpy()


def generate(
    s: AnimateSettings,
    folder: Path,
    load: Callable[[AnimateSettings], Any],
    report: Report,
    cancel: threading.Event,
) -> Generated:
    """Generate the video `s` describes into `folder` (result, side by side, window strip), as
    `mimicmotion animate` does; `load(s)` gives the pipeline (loaded once by the caller)."""
    from mimicmotion.animate import check_settings
    from mimicmotion.eval.plots import plot_yt_slice
    from mimicmotion.generation import pose_inputs, sample, video_frames, write_video
    from mimicmotion.playback import output_audio, output_fps
    from mimicmotion.pose import prepare_reference, reference_pose
    from mimicmotion.pose.build import pose_detector
    from mimicmotion.video import iter_frames, read_image
    from mimicmotion.windows import load_window_layout, save_window_layout, window_layout_path

    def stop_if_cancelled() -> None:
        if cancel.is_set():
            raise Cancelled

    s = s.replace(out=folder / RESULT)
    check_settings(s)
    image = read_image(s.ref)
    report("poses", 0, 0, "")
    with pose_detector(s.pose_backend, s.dwpose_dir) as detector:
        # A photo without a person fails here, before the model is loaded (as in `animate`).
        reference_pose(prepare_reference(image, s.resolution), detector, Path(s.ref).name)
        stop_if_cancelled()
        report("loading the model", 0, 0, "(the first job only: it is kept for the next)")
        pipe = load(s)
        stop_if_cancelled()
        report("poses", 0, 0, "")
        inputs = pose_inputs(s, image, backend=detector)
    with inputs.pose_frames:
        stop_if_cancelled()
        clock = Clock("denoising", report, cancel)
        with _window_progress(pipe, clock):
            result = sample(pipe, inputs, s)
        count = len(inputs.poses) - 1
        fps = output_fps(s)
        writing = Clock("writing", report, cancel)
        writing.start(count)
        frames = video_frames(pipe, result.frames, s.decode_overlap, s.decode_chunk)
        write_video(
            s.out, writing.each(frames), count, fps, audio=output_audio(s, inputs.poses), progress=not s.quiet
        )
        layout = window_layout_path(s.out)
        save_window_layout(
            layout, result.windows, len(inputs.poses),
            extra={"tile_size": s.tile_size, "tile_overlap": s.tile_overlap, "fusion": s.fusion,
                   "seed": s.seed},
        )  # fmt: skip
        writing = Clock("writing the side-by-side video", report, cancel)
        writing.start(count)
        frames = writing.each(frame for _, frame in iter_frames(s.out))
        write_video(folder / SIDE_BY_SIDE, frames, count, fps, beside=inputs, progress=False)
    stop_if_cancelled()
    report("window strip", 0, 0, "")
    scale = max(1, min(16, math.ceil(STRIP_WIDTH / count)))
    plot_yt_slice(s.out, folder / STRIP, layout=load_window_layout(layout), time_scale=scale)
    return Generated(s.out, folder / SIDE_BY_SIDE, folder / STRIP, count, fps)


class Clock:
    """Progress of one counted stage, with an ETA; raises Cancelled at each unit once `cancel` is set."""

    def __init__(self, stage: str, report: Report, cancel: threading.Event) -> None:
        self.stage, self.report, self.cancel = stage, report, cancel
        self.total, self.done, self.started = 0, 0, time.monotonic()

    def start(self, total: int, done: int = 0) -> None:
        self.total, self.done, self.started = total, done, time.monotonic()
        self.report(self.stage, done, total, "")

    def update(self, units: int = 1) -> None:
        if self.cancel.is_set():
            raise Cancelled
        self.done += units
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        self.report(self.stage, self.done, self.total, f"about {left:.0f} s left" if self.done else "")

    def each(self, items: Iterator[Any]) -> Iterator[Any]:
        for item in items:
            if self.cancel.is_set():
                raise Cancelled
            yield item
            self.update()


class _WindowBar:
    """What the pipeline takes for its progress bar (updated once per denoising window)."""

    def __init__(self, clock: Clock, total: int) -> None:
        self.clock = clock
        clock.start(total)

    def update(self, units: int = 1) -> None:
        if units:
            self.clock.update(units)

    def __enter__(self) -> _WindowBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@contextlib.contextmanager
def _window_progress(pipe: Any, clock: Clock) -> Iterator[None]:
    """The pipeline's progress bar replaced, for one run, by `clock` (steps x windows): the page shows it
    and a cancelled job stops after the window being denoised."""
    pipe.progress_bar = lambda iterable=None, total=None: _WindowBar(clock, total)
    try:
        yield
    finally:
        del pipe.progress_bar  # the class's own again
