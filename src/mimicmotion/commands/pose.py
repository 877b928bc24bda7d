"""`mimicmotion pose`: keypoints of a driving video (optionally retargeted to a reference image)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

from mimicmotion.config import PoseSettings
from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import option, parse

DESCRIPTION = """\
Detect the dancer's keypoints in a driving video and save them as a pose .npz (see PoseSequence).
Without --ref the raw detections are stored in the driving frame's coordinates; with --ref they are
moved onto the reference image's person (prepared at --resolution) and entry 0 is the reference's own
pose, exactly the pose frames `mimicmotion animate` uses. --render also writes the pose pictures as mp4.
"""


@dataclass
class PoseCommand(PoseSettings):
    driving: Path | None = option(None, "video file or folder of images", metavar="VIDEO", required=True)
    ref: Path | None = option(None, "reference image to retarget the poses to", metavar="IMAGE")
    out: Path | None = option(None, "pose file to write", metavar="POSES.npz", required=True)
    render: Path | None = option(None, "also write the pose pictures as a video", metavar="POSE.mp4")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_settings(parser, PoseCommand)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.errors import MimicMotionError
    from mimicmotion.pose.reference import check_resolution
    from mimicmotion.video import check_writable, driving_frame_step

    # Everything that can be checked without work is checked first, so mistakes fail in a second.
    options = parse(args, PoseCommand)
    check_resolution(options.resolution)
    if options.stride < 1:
        raise MimicMotionError(f"--stride must be at least 1, got {options.stride}")
    driving_frame_step(24.0, options.stride)
    if options.max_frames is not None and options.max_frames < 1:
        raise MimicMotionError(f"--max-frames must be at least 1, got {options.max_frames}")
    for path, suffix in ((options.out, ".npz"), (options.render, ".mp4")):
        if path:
            if Path(path).suffix.lower() != suffix:
                raise MimicMotionError(f"{path} must be a {suffix} file")
            check_writable(path)
    return _run(options)


def _run(options: PoseCommand) -> int:
    from mimicmotion.pose import (
        choose_backend,
        extract_poses,
        get_backend,
        retargeted_poses,
        smooth,
        write_pose_video,
    )
    from mimicmotion.pose.reference import scaled_size
    from mimicmotion.video import atomic_output, probe_video

    progress = not options.quiet
    detector, why = choose_backend(options.pose_backend, options.dwpose_dir)
    with get_backend(detector, options.dwpose_dir) as backend:
        if not options.quiet:
            print(why)
        if options.ref:
            _, seq = retargeted_poses(
                options.ref, options.driving, options.resolution, backend, options.retarget,
                options.stride, options.max_frames, options.smooth, progress,
            )  # fmt: skip
            height, width = seq.height, seq.width
        else:
            info = probe_video(options.driving)
            height, width = scaled_size(info.height, info.width, options.resolution)
            seq = extract_poses(options.driving, backend, options.stride, options.max_frames, progress)
            if options.smooth:
                seq = smooth(seq)

    # Both files appear together or not at all.
    with contextlib.ExitStack() as outputs:
        if options.render:
            render_temp = outputs.enter_context(atomic_output(options.render))
            write_pose_video(seq, render_temp, height, width, options.pose_style, progress=progress)
        out_temp = outputs.enter_context(atomic_output(options.out))
        seq.save(out_temp)
    if not options.quiet:
        rendered = f" and {options.render}" if options.render else ""
        print(f"wrote {len(seq)} poses to {options.out}{rendered}", file=sys.stderr)
    return 0
