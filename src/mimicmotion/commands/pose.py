"""`mimicmotion pose`: keypoints of a driving video (optionally retargeted to a reference image)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys

DESCRIPTION = """\
Detect the dancer's keypoints in a driving video and save them as a pose .npz (see PoseSequence).
Without --ref the raw detections are stored in the driving frame's coordinates; with --ref they are
moved onto the reference image's person (prepared at --resolution) and entry 0 is the reference's own
pose, exactly the pose frames `mimicmotion animate` uses. --render also writes the pose pictures as mp4.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pose",
        help="extract (and retarget / render) the poses of a driving video",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--driving", required=True, metavar="VIDEO", help="video file or folder of images")
    parser.add_argument("--ref", metavar="IMAGE", help="reference image to retarget the poses to")
    parser.add_argument("--out", required=True, metavar="POSES.npz", help="pose file to write")
    parser.add_argument("--render", metavar="POSE.mp4", help="also write the pose pictures as a video")
    parser.add_argument(
        "--backend",
        default="auto",
        help="auto (default: dwpose when its weights are at hand, else mediapipe), dwpose or mediapipe",
    )
    parser.add_argument(
        "--dwpose-dir",
        metavar="DIR",
        help="folder with yolox_l.onnx and dw-ll_ucoco_384.onnx (dwpose backend)",
    )
    parser.add_argument(
        "--retarget", default="linear", help="none, linear (default, the released fit) or limbs"
    )
    parser.add_argument(
        "--style", default="released", help="render style: released (default), confidence, threshold"
    )
    parser.add_argument(
        "--stride", type=int, default=2, help="take every N-th frame (times fps/24 above 24 fps; default 2)"
    )
    parser.add_argument("--max-frames", type=int, metavar="N", help="use only the first N sampled frames")
    parser.add_argument("--smooth", action="store_true", help="smooth keypoints over time (one-euro filter)")
    parser.add_argument(
        "--resolution",
        type=int,
        default=576,
        help="short side of the prepared reference / render (default 576)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars or summaries")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.errors import MimicMotionError
    from mimicmotion.pose.render import check_style
    from mimicmotion.pose.retargeting import check_mode
    from mimicmotion.video import check_writable

    # Everything that can be checked without work is checked first, so mistakes fail in a second.
    check_style(args.style)
    check_mode(args.retarget)
    if args.stride < 1:
        raise MimicMotionError(f"--stride must be at least 1, got {args.stride}")
    if args.max_frames is not None and args.max_frames < 1:
        raise MimicMotionError(f"--max-frames must be at least 1, got {args.max_frames}")
    for path in (args.out, args.render):
        if path:
            check_writable(path)
    summaries = logging.StreamHandler(sys.stderr)  # fill summaries (logger "mimicmotion.pose")
    summaries.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("mimicmotion.pose")
    if not args.quiet:
        logger.addHandler(summaries)
        logger.setLevel(logging.INFO)
    try:
        return _run(args)
    finally:
        logger.removeHandler(summaries)


def _run(args: argparse.Namespace) -> int:
    from mimicmotion.pose import (
        choose_backend,
        extract_poses,
        get_backend,
        retargeted_poses,
        smooth,
        write_pose_video,
    )
    from mimicmotion.pose.reference import scaled_size, target_size
    from mimicmotion.video import atomic_output, check_writable, driving_frame_step, probe_video

    # Settings and outputs are checked before any detection work.
    target_size(1, 1, args.resolution)
    driving_frame_step(24.0, args.stride)
    for output in (args.out, args.render):
        if output is not None:
            check_writable(output)
    progress = not args.quiet
    detector, why = choose_backend(args.backend, args.dwpose_dir)
    with get_backend(detector, args.dwpose_dir) as backend:
        if not args.quiet:
            print(why)
        if args.ref:
            _, seq = retargeted_poses(
                args.ref, args.driving, args.resolution, backend, args.retarget,
                args.stride, args.max_frames, args.smooth, progress,
            )  # fmt: skip
            height, width = seq.height, seq.width
        else:
            info = probe_video(args.driving)
            height, width = scaled_size(info.height, info.width, args.resolution)
            seq = extract_poses(args.driving, backend, args.stride, args.max_frames, progress)
            if args.smooth:
                seq = smooth(seq)

    # Both files appear together or not at all.
    with contextlib.ExitStack() as outputs:
        if args.render:
            render_temp = outputs.enter_context(atomic_output(args.render))
            write_pose_video(seq, render_temp, height, width, args.style, progress=progress)
        out_temp = outputs.enter_context(atomic_output(args.out))
        seq.save(out_temp)
    if not args.quiet:
        rendered = f" and {args.render}" if args.render else ""
        print(f"wrote {len(seq)} poses to {args.out}{rendered}", file=sys.stderr)
    return 0
