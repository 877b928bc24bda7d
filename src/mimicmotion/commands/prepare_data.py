"""`mimicmotion prepare-data`: keypoints and metadata of the training videos (`mimicmotion.train.prepare`)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import option, parse
from mimicmotion.train.prepare import PrepareSettings


@dataclass
class PrepareDataCommand:
    videos: Path | None = option(
        None, "folder of videos (searched recursively)", metavar="DIR", required=True
    )
    out: Path | None = option(None, "prepared data folder", metavar="DATA", required=True)
    workers: int = option(
        min(4, os.cpu_count() or 1), "videos prepared in parallel (one per CPU core, at most 4)", metavar="N"
    )
    retry_skipped: bool = option(False, "try videos skipped before again")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "For every video under --videos: the pose of every frame (with confidences), frame count, fps, "
        "size and the detector that ran, written to --out. Resumable: videos already prepared (or skipped) "
        "are not done again. Prints which videos were skipped and why."
    )
    parser.epilog = (
        "Given poses: a video with a pose file beside it (clip.mp4 + clip.npz, written by "
        "PoseSequence.save) is not detected; its poses are used as they are. The file holds one entry per "
        "frame (frame_indices 0..n-1), each point [x / video width, y / video height, confidence] in the "
        "video's upright size, absent points (-1, -1, 0) where nothing was seen; the confidences shade the "
        "pose picture and decide the hand weights. A file that does not fit its video skips the video "
        "with the reason. No detector is needed when every video has its pose file."
    )
    add_settings(parser, PrepareDataCommand)
    add_settings(parser, PrepareSettings)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.errors import MimicMotionError
    from mimicmotion.train.prepare import prepare_data

    command = parse(args, PrepareDataCommand)
    report = prepare_data(
        command.videos,
        command.out,
        parse(args, PrepareSettings),
        workers=command.workers,
        retry_skipped=command.retry_skipped,
    )
    print(report.summary())
    if not report.prepared and not report.already_done:
        raise MimicMotionError(f"no usable video in {command.videos}: all {len(report.skipped)} were skipped")
    return 0
