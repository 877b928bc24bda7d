"""`mimicmotion plot`: pictures of temporal smoothness (Y-T slices, frame-difference strips).

Only option parsing lives here; the pictures are made by `mimicmotion.eval.plots`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import option, parse


@dataclass
class PlotInput:
    video: Path | None = option(None, "video file or folder of images", metavar="VIDEO", positional=True)
    out: Path | None = option(None, "output image (.png or .jpg)", metavar="PNG", required=True)
    windows: Path | None = option(
        None,
        "window layout of the generation (default: VIDEO's X.windows.json when it exists)",
        metavar="JSON",
    )
    no_windows: bool = option(False, "do not mark window boundaries")


@dataclass
class YtSlice(PlotInput):
    x: int | None = option(None, "the frame column to slice (default: the middle)", metavar="COL")
    time_scale: int = option(1, "repeat each time column K times", metavar="K")
    max_frames: int | None = option(None, "slice at most the first N frames", metavar="N")


@dataclass
class FrameDiff(PlotInput):
    start: int = option(0, "first transition T -> T+1", metavar="T")
    count: int = option(16, "number of thumbnails", metavar="N")
    gain: float = option(4.0, "brightness gain on the differences")
    height: int = option(160, "thumbnail height", metavar="PX")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = "Pictures of a video's temporal behaviour (the paper's Figs. 5 and 9)."
    kinds = parser.add_subparsers(dest="plot", required=True, metavar="KIND")
    yt = kinds.add_parser(
        "yt-slice",
        help="column x of every frame stacked over time (row y, column t)",
        description="Write the Y-T slice of VIDEO: an image of height H and width T (frames) whose "
        "column t is column x of frame t. Window boundaries are marked below it when a layout is known.",
    )
    add_settings(yt, YtSlice)
    yt.set_defaults(run=run_yt_slice)
    diff = kinds.add_parser(
        "frame-diff",
        help="a strip of |frame t+1 - frame t| thumbnails",
        description="Write thumbnails of the absolute difference of consecutive frames, left to right; "
        "boundary transitions of a window layout get a red frame.",
    )
    add_settings(diff, FrameDiff)
    diff.set_defaults(run=run_frame_diff)


def _layout(options: PlotInput):
    from mimicmotion.errors import MimicMotionError
    from mimicmotion.windows import find_window_layout, load_window_layout

    if options.no_windows:
        if options.windows:
            raise MimicMotionError("--windows and --no-windows exclude each other")
        return None
    return load_window_layout(options.windows) if options.windows else find_window_layout(options.video)


def run_yt_slice(args: argparse.Namespace) -> int:
    from mimicmotion.eval.plots import plot_yt_slice

    o = parse(args, YtSlice)
    path = plot_yt_slice(o.video, o.out, o.x, _layout(o), o.time_scale, o.max_frames)
    print(f"wrote {path}")
    return 0


def run_frame_diff(args: argparse.Namespace) -> int:
    from mimicmotion.eval.plots import plot_frame_differences

    o = parse(args, FrameDiff)
    path = plot_frame_differences(o.video, o.out, o.start, o.count, o.gain, o.height, _layout(o))
    print(f"wrote {path}")
    return 0
