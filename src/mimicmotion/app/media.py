"""The app's inputs: what a photo or a motion (a driving video or a pose file) is as read, the limits on
them, and the folders files may come from."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.types import PoseSequence
from mimicmotion.video import probe_video, read_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".gif")
POSE_SUFFIX = ".npz"  # keypoints to follow (docs/pose-format.md), as `animate --poses` takes them
MOTION_SUFFIXES = (*VIDEO_SUFFIXES, POSE_SUFFIX)


@dataclass(frozen=True)
class Limits:
    """What one job may ask for: the size of an upload (Gradio refuses bigger ones in the page) and the
    length of the driving video."""

    max_upload_mb: float
    max_seconds: float


def describe_photo(path: str | os.PathLike) -> str:
    """One line: the photo's size as read (EXIF orientation applied); a MimicMotionError if unreadable."""
    image = read_image(path)
    return f"{Path(path).name}: {image.shape[1]} x {image.shape[0]} pixels"


def describe_motion(path: str | os.PathLike, limits: Limits | None = None) -> str:
    """One line: the driving video's (or pose file's) size, frame count, duration and frame rate as read;
    a MimicMotionError if it does not read or is longer than `limits` allow."""
    if Path(path).suffix.lower() == POSE_SUFFIX:
        poses = PoseSequence.load(path)
        width, height, count, fps, what = poses.width, poses.height, len(poses), poses.sample_fps, "poses"
        if not (math.isfinite(fps) and fps > 0):  # a still image's pose, or a broken file: no time
            raise MimicMotionError(
                f"{Path(path).name} gives no frame rate (fps {fps:g}): poses to follow need one"
            )
    else:
        info = probe_video(path)
        width, height, count, fps, what = info.width, info.height, info.num_frames, info.fps, "video"
    seconds = count / fps
    if limits is not None:
        check_duration(seconds, limits, what)
    counted = "poses" if what == "poses" else "frames"
    return f"{Path(path).name}: {width} x {height} pixels, {count} {counted}, {seconds:.2f} s at {fps:g} fps"


def check_duration(seconds: float, limits: Limits, what: str = "video") -> None:
    """`what`: "video", or "poses" for a pose file."""
    if seconds > limits.max_seconds:
        lasts, takes = ("lasts", "videos") if what == "video" else ("last", "motions")
        raise MimicMotionError(
            f"the driving {what} {lasts} {seconds:.1f} s; this app takes {takes} of at most "
            f"{limits.max_seconds:g} s (--max-seconds): cut it shorter first"
        )


def check_source(path: str | os.PathLike, roots: Iterable[str | os.PathLike]) -> Path:
    """`path`, resolved, if it lies in one of the folders `roots` (uploads, examples, outputs); a
    MimicMotionError otherwise: the page never reads other files of the server."""
    resolved = Path(path).resolve()
    for root in roots:
        if resolved.is_relative_to(Path(root).resolve()):
            return resolved
    raise MimicMotionError(f"{Path(path).name} is not an upload, an example or an output of this app")


def example_media(folders: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Path]]:
    """(photos, motions: driving videos and pose files) in the example folders, by name."""
    photos, motions = [], []
    for folder in folders:
        for path in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else ():
            if path.suffix.lower() in IMAGE_SUFFIXES:
                photos.append(path)
            elif path.suffix.lower() in MOTION_SUFFIXES:
                motions.append(path)
    return photos, motions
