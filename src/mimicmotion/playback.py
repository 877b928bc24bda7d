"""How the output plays: its frame rate, and whether it carries the driving video's sound.

`--fps auto` (the default) plays the output in real time: at the rate the used driving frames follow
each other in the source (its fps divided by the frames between two used ones: `driving_frame_step`),
so the output lasts exactly as long as the part of the source it follows, and the source's sound fits
it. A number is a fixed rate (15 is the released program's, which plays a 24 fps source at stride 2 25 %
too fast); the sound is then left out, since it could not be in sync.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from mimicmotion.audio import AudioSpan, find_audio
from mimicmotion.config import AnimateSettings
from mimicmotion.errors import MimicMotionError
from mimicmotion.pose import PoseSequence
from mimicmotion.video import driving_frame_step, probe_video

log = logging.getLogger("mimicmotion")

AUTO = "auto"


def fixed_fps(value: str | float) -> float | None:
    """The number `--fps` gives, or None for "auto"; a MimicMotionError for anything else."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return None
    try:
        fps = float(value)
    except (TypeError, ValueError):
        raise MimicMotionError(f"fps must be auto or a number of frames per second, got {value!r}") from None
    if not math.isfinite(fps) or fps <= 0:
        raise MimicMotionError(f"fps must be a positive number of frames per second (or auto), got {value!r}")
    return fps


def output_fps(s: AnimateSettings) -> float:
    """The frame rate the output is written at, for settings `s`."""
    fps = fixed_fps(s.fps)
    if fps is not None:
        return fps
    if _is_pose_file(s.motion):
        return PoseSequence.load(s.motion).sample_fps
    info = probe_video(s.motion)
    return info.fps / driving_frame_step(info.fps, s.stride)


def output_audio(s: AnimateSettings, poses: PoseSequence) -> AudioSpan | None:
    """The driving video's sound for the output that follows `poses` (the reference's pose first, then
    one per output frame), or None: no sound wanted (`--no-audio`), no driving video or none in it, or a
    fixed `--fps`.

    With poses from a file (--poses), the driving video gives the sound when the poses were taken from a
    video of its frame rate: their frame indices say where in it the output starts and how fast it goes.
    """
    if not s.audio or s.driving is None or _is_pose_file(s.driving):
        return None
    fps = fixed_fps(s.fps)
    if fps is not None:
        if find_audio(s.driving, 0.0, 1.0) is not None:
            log.info(
                "the driving video's sound is left out: --fps %g does not play it in real time (--fps auto)",
                fps,
            )
        return None
    info = probe_video(s.driving)
    if _is_pose_file(s.motion):
        source = PoseSequence.load(s.motion)
        if abs(source.fps - info.fps) > 0.01 * info.fps:
            log.info(
                "the sound of %s is left out: the poses come from a %g fps video, it is %g fps",
                s.driving,
                source.fps,
                info.fps,
            )
            return None
        step = source.fps / source.sample_fps
    else:
        step = driving_frame_step(info.fps, s.stride)
    driving = poses.frame_indices[1:]
    return find_audio(s.driving, float(driving[0]) / info.fps, len(driving) * step / info.fps)


def _is_pose_file(driving: str | Path | None) -> bool:
    return driving is not None and Path(driving).suffix.lower() == ".npz"
