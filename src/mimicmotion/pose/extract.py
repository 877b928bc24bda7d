"""Keypoints of a driving video: decode (in a background thread) -> detect -> fill gaps.

Frames are sampled with the released rule (every `stride * max(1, int(fps / 24))` source frames) and
streamed: only a few decoded frames exist at any time, so memory does not grow with the video. Decoding
runs in its own thread, overlapping with detection (PyAV and the detectors release the GIL while they
work).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.backends import DEFAULT_BACKEND, PoseBackend, get_backend, poses_to_sequence
from mimicmotion.pose.fill import fill_gaps
from mimicmotion.pose.prefetch import prefetch
from mimicmotion.pose.quiet import live_stderr
from mimicmotion.pose.types import PoseSequence
from mimicmotion.video import NoFramesError, VideoInfo, driving_frame_step, iter_frames, probe_video

log = logging.getLogger("mimicmotion.pose")

DEFAULT_STRIDE = 2
_PREFETCH = 4  # decoded frames waiting for the detector at most


def detect_poses(
    video_path: str | os.PathLike,
    backend: str | PoseBackend = DEFAULT_BACKEND,
    stride: int = DEFAULT_STRIDE,
    max_frames: int | None = None,
    progress: bool = True,
    **backend_options: Any,
) -> PoseSequence:
    """Raw detections of the sampled frames of a video (or image folder), in its own coordinates.

    Frames without a person have all points absent; see `extract_poses` for the filled sequence.
    `backend` is a name for `get_backend` (with `backend_options`) or a backend object.

    Backends that track (MediaPipe) can run several trackers at once: the sampled frames are then cut
    into that many consecutive segments, each decoded and tracked in its own thread.
    """
    info = probe_video(video_path)
    step = driving_frame_step(info.fps, stride)
    total = sampled_frame_count(info, stride, max_frames)
    owned = isinstance(backend, str)
    detector = get_backend(backend, **backend_options) if isinstance(backend, str) else backend
    bar = _Progress(total, progress, desc=f"poses ({detector.name})")
    stop = threading.Event()
    segments = _segments(total, detector.parallel_videos(total))

    def detect_segment(number: int) -> tuple[list[int], list]:
        first, count = segments[number]
        open_ended = number == len(segments) - 1 and max_frames is None  # frame counts can be estimates
        sampled = iter_frames(
            video_path,
            step=step,
            max_frames=None if open_ended else count,
            size=detector.decode_size(info.width, info.height),
            start=first * step,
        )
        indices: list[int] = []

        def frames() -> Iterator:
            try:
                for index, frame in sampled:
                    if stop.is_set():
                        return
                    indices.append(index)
                    yield frame
            except NoFramesError:
                if number == 0:  # a later segment may find the video shorter than its frame count said
                    raise

        poses = []
        for pose in detector.detect_frames(prefetch(frames(), depth=_PREFETCH), video=True):
            poses.append(pose)
            bar.update()
        return indices, poses

    try:
        if len(segments) == 1:
            results = [detect_segment(0)]
        else:
            with ThreadPoolExecutor(len(segments), thread_name_prefix="mimicmotion-pose") as pool:
                futures = [pool.submit(detect_segment, number) for number in range(len(segments))]
                try:
                    results = [future.result() for future in futures]
                finally:
                    stop.set()  # a failed segment stops the others
    finally:
        bar.close()
        if owned:
            detector.close()
    indices = [index for segment_indices, _ in results for index in segment_indices]
    poses = [pose for _, segment_poses in results for pose in segment_poses]
    return poses_to_sequence(poses, info.width, info.height, info.fps, indices)


def sampled_frame_count(info: VideoInfo, stride: int = DEFAULT_STRIDE, max_frames: int | None = None) -> int:
    """How many frames `detect_poses` samples from the video `info` describes: known from its header,
    before anything is decoded."""
    total = math.ceil(info.num_frames / driving_frame_step(info.fps, stride))
    return total if max_frames is None else min(total, max_frames)


def _segments(total: int, parts: int) -> list[tuple[int, int]]:
    """`total` sampled frames cut into `parts` consecutive (first, count) runs of near-equal length."""
    parts = max(1, min(parts, total))
    bounds = [round(total * k / parts) for k in range(parts + 1)]
    return [(bounds[k], bounds[k + 1] - bounds[k]) for k in range(parts)]


def extract_poses(
    video_path: str | os.PathLike,
    backend: str | PoseBackend = DEFAULT_BACKEND,
    stride: int = DEFAULT_STRIDE,
    max_frames: int | None = None,
    progress: bool = True,
    **backend_options: Any,
) -> PoseSequence:
    """Poses of a driving video in its own coordinates, frames without a person filled from neighbours.

    Logs (logger "mimicmotion.pose") how many frames were filled. Raises MimicMotionError when no
    frame holds a person.
    """
    raw = detect_poses(video_path, backend, stride, max_frames, progress, **backend_options)
    filled, report = fill_gaps(raw)
    if report.with_person == 0:
        raise MimicMotionError(f"no person found in any of the {len(raw)} sampled frames of {video_path}")
    log.info("%s: %s", video_path, report.summary())
    return filled


class _Progress:
    """A tqdm bar (frames and frames/s) that several threads may advance; silent when disabled."""

    def __init__(self, total: int, enabled: bool, desc: str) -> None:
        self._lock = threading.Lock()
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            # live_stderr: detectors may point sys.stderr elsewhere while they run (see quiet.py)
            self._bar = tqdm(total=total, unit="frame", desc=desc, dynamic_ncols=True, file=live_stderr)

    def update(self) -> None:
        if self._bar is not None:
            with self._lock:
                self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
