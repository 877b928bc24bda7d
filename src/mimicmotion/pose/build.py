"""From (reference image, driving video, settings) to the pose frames the diffusion pipeline takes: the one
pose path of `animate`, `pose --ref`, training validation and the Python API.

The reference is prepared (resize to cover, center crop), its own pose detected on it; the driving poses
are detected (or taken from the pose cache, or from a pose file), moved onto the reference body, gaps
filled, optionally smoothed, and drawn. Pose frame 0 is the reference image's own pose; frames 1.. are the
driving poses moved into the reference frame (docs/released-behaviour.md). Everything is in the prepared
reference's coordinates.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.backends import DEFAULT_BACKEND, PoseBackend, choose_backend, get_backend
from mimicmotion.pose.cache import cached_poses
from mimicmotion.pose.extract import DEFAULT_STRIDE, detect_poses
from mimicmotion.pose.fill import fill_gaps
from mimicmotion.pose.frames import PoseFrames, render_pose_frames
from mimicmotion.pose.reference import DEFAULT_RESOLUTION, CoverCrop, prepare_reference
from mimicmotion.pose.render import check_style
from mimicmotion.pose.retargeting import check_mode
from mimicmotion.pose.retargeting import retarget as retarget_poses
from mimicmotion.pose.smoothing import smooth as smooth_poses
from mimicmotion.pose.types import REFERENCE_FRAME_INDEX, PoseSequence
from mimicmotion.video import read_image

log = logging.getLogger("mimicmotion.pose")


@contextlib.contextmanager
def pose_detector(
    backend: str | PoseBackend = DEFAULT_BACKEND, dwpose_dir: str | os.PathLike | None = None
) -> Iterator[PoseBackend]:
    """The detector `backend` names (logging which one runs and why), closed afterwards; a detector
    object is used as it is and left open."""
    if not isinstance(backend, str):
        yield backend
        return
    name, why = choose_backend(backend, dwpose_dir)
    with get_backend(name, dwpose_dir) as detector:
        log.info(why)
        yield detector


def reference_pose(image: np.ndarray, backend: PoseBackend, name: str = "") -> PoseSequence:
    """The pose of a (prepared) reference image; MimicMotionError if it shows no person."""
    pose = backend.detect_image(image)
    if not pose.has_person()[0]:
        raise MimicMotionError(f"no person found in the reference image {name}".rstrip())
    return pose


def retargeted_poses(
    reference_image: np.ndarray | str | os.PathLike,
    driving: PoseSequence | str | os.PathLike,
    resolution: int = DEFAULT_RESOLUTION,
    backend: str | PoseBackend = DEFAULT_BACKEND,
    retarget: str = "linear",
    stride: int = DEFAULT_STRIDE,
    max_frames: int | None = None,
    smooth: bool = False,
    progress: bool = True,
    dwpose_dir: str | os.PathLike | None = None,
    cache: bool = True,
    size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, PoseSequence]:
    """(prepared reference image, pose sequence with the reference pose first) — no rendering.

    `reference_image`: RGB uint8 array or image path. `driving`: a video / image folder path, a `.npz`
    written by `PoseSequence.save` (driving-frame coordinates, taken as they are: `stride` applies to
    videos) or a `PoseSequence`. With `cache`, the detections of a video are kept in the pose cache
    (`mimicmotion.pose.cache`) and reused by the next run on the same video. `size` (height, width)
    replaces the size `resolution` gives (training validation renders at the training size).
    """
    check_mode(retarget)
    image, name = _reference(reference_image)
    if size is None:
        prepared = prepare_reference(image, resolution)
    else:
        prepared = CoverCrop.fit(*image.shape[:2], *size).image(image)
    with pose_detector(backend, dwpose_dir) as detector:
        reference = reference_pose(prepared, detector, name)
        moving = _driving(driving, detector, stride, max_frames, progress, cache)
    return prepared, reference_first(reference, moving, retarget, smooth)


def reference_first(
    reference: PoseSequence, driving: PoseSequence, retarget: str = "linear", smooth: bool = False
) -> PoseSequence:
    """The reference pose as entry 0, then the driving poses moved onto it.

    `driving` holds raw detections: the fit onto the reference uses the frames with exactly one person
    (as the released fit did); frames without anyone (MediaPipe only: DWPose always finds someone) are
    filled from their neighbours afterwards (the fit is linear, so filling before or after it gives the
    same points), then optionally smoothed (both act on the main person).
    """
    if not driving.has_person().any():
        raise MimicMotionError(f"no person found in any of the {len(driving)} driving frames")
    moved, report = fill_gaps(retarget_poses(driving, reference, retarget))
    if report.filled:
        log.info("driving poses: %s", report.summary())
    if smooth:
        moved = smooth_poses(moved)
    return PoseSequence.concatenate([reference, moved])


def build_pose_frames(
    reference_image: np.ndarray | str | os.PathLike,
    driving: PoseSequence | str | os.PathLike,
    resolution: int = DEFAULT_RESOLUTION,
    backend: str | PoseBackend = DEFAULT_BACKEND,
    retarget: str = "linear",
    style: str = "released",
    stride: int = DEFAULT_STRIDE,
    max_frames: int | None = None,
    smooth: bool = False,
    progress: bool = True,
    directory: str | os.PathLike | None = None,
    dwpose_dir: str | os.PathLike | None = None,
    cache: bool = True,
    size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, PoseFrames, PoseSequence]:
    """Everything the pipeline needs from the pose side, for one reference image and driving video.

    Returns (prepared reference image RGB uint8 (H, W, 3), `PoseFrames` of F = 1 + driving frames
    pictures of H x W, the `PoseSequence` they were drawn from). The caller closes the PoseFrames (or
    uses it as a context manager) to delete its temporary file.

    - `reference_image`: RGB uint8 array or image path (named in errors). Raises MimicMotionError
      "no person found in the reference image <path>" when it shows no one.
    - `driving`: video file, image folder, pose `.npz` (driving coordinates) or `PoseSequence`.
    - `resolution`: short side of the output (576 -> 576 x 1024); `backend`: "auto" / "dwpose" /
      "mediapipe" or a backend object; `dwpose_dir`: where DWPose's files are; `retarget`: none / linear
      / limbs; `style`: released / confidence / threshold; `stride`, `max_frames`: driving sampling;
      `smooth`: one-euro smoothing of the driving keypoints; `directory`: where the temporary file goes;
      `cache`: keep and reuse a video's detections (see `retargeted_poses`); `size`: (height, width)
      instead of the size `resolution` gives.
    """
    check_style(style)
    prepared, seq = retargeted_poses(
        reference_image, driving, resolution, backend, retarget, stride, max_frames, smooth, progress,
        dwpose_dir, cache, size,
    )  # fmt: skip
    height, width = prepared.shape[:2]
    frames = render_pose_frames(seq, height, width, style, directory=directory, progress=progress)
    return prepared, frames, seq


def _reference(reference_image: np.ndarray | str | os.PathLike) -> tuple[np.ndarray, str]:
    if isinstance(reference_image, np.ndarray):
        return reference_image, ""
    return read_image(reference_image), str(reference_image)


def _driving(
    driving: PoseSequence | str | os.PathLike,
    detector: PoseBackend,
    stride: int,
    max_frames: int | None,
    progress: bool,
    cache: bool,
) -> PoseSequence:
    """Driving poses (frames without a person left empty) from a video, a pose .npz or a sequence."""
    if isinstance(driving, PoseSequence) or Path(driving).suffix.lower() == ".npz":
        seq = driving if isinstance(driving, PoseSequence) else PoseSequence.load(driving)
        if len(seq) and seq.frame_indices[0] == REFERENCE_FRAME_INDEX:
            raise MimicMotionError(
                f"the driving poses {'' if isinstance(driving, PoseSequence) else driving} start with a "
                "reference image's pose (`mimicmotion pose --ref` wrote them, already moved onto that "
                "reference); give the driving video's own poses (`mimicmotion pose` without --ref)"
            )
    else:

        def detect() -> PoseSequence:
            return detect_poses(driving, detector, stride, max_frames, progress)

        return cached_poses(driving, detector.cache_key, stride, max_frames, detect) if cache else detect()
    return seq if max_frames is None else seq.select(slice(0, max_frames))
