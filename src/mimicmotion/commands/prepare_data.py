"""`mimicmotion prepare-data`: keypoints and metadata of the training videos (`mimicmotion.train.prepare`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare-data",
        help="detect the poses of a folder of training videos",
        description="For every video under --videos: the pose of every frame (with confidences), frame "
        "count, fps, size and per-frame hand boxes, written to --out. Resumable: videos already prepared (or "
        "skipped) are not done again. Prints which videos were skipped and why.",
    )
    parser.add_argument(
        "--videos", type=Path, required=True, metavar="DIR", help="folder of videos (recursive)"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DATA", help="prepared data folder")
    parser.add_argument(
        "--workers", type=int, default=min(4, os.cpu_count() or 1), metavar="N",
        help="videos prepared in parallel (default: min(4, CPU cores))",
    )  # fmt: skip
    parser.add_argument(
        "--backend",
        default="auto",
        help="pose detector: auto (default: dwpose when its weights are at hand, else mediapipe), dwpose "
        "or mediapipe",
    )
    parser.add_argument(
        "--hand-threshold", type=float, default=0.3, metavar="C",
        help="hand boxes are recorded for hands whose 21 confidences all exceed C (default 0.3)",
    )  # fmt: skip
    parser.add_argument(
        "--hand-padding", type=float, default=0.2, metavar="F",
        help="hand box padding as a fraction of its longer side (default 0.2)",
    )  # fmt: skip
    parser.add_argument(
        "--min-person-fraction", type=float, default=0.5, metavar="F",
        help="skip videos with a person in fewer than this fraction of frames (default 0.5)",
    )  # fmt: skip
    parser.add_argument("--retry-skipped", action="store_true", help="try videos skipped before again")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.errors import MimicMotionError
    from mimicmotion.train.prepare import PrepareSettings, prepare_data

    settings = PrepareSettings(
        backend=args.backend,
        hand_threshold=args.hand_threshold,
        hand_padding=args.hand_padding,
        min_person_fraction=args.min_person_fraction,
    )
    report = prepare_data(
        args.videos, args.out, settings, workers=args.workers, retry_skipped=args.retry_skipped
    )
    print(report.summary())
    if not report.prepared and not report.already_done:
        raise MimicMotionError(f"no usable video in {args.videos}: all {len(report.skipped)} were skipped")
    return 0
