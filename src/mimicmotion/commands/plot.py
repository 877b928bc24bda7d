"""`mimicmotion plot`: pictures of temporal smoothness (Y-T slices, frame-difference strips).

Only option parsing lives here; the pictures are made by `mimicmotion.eval.plots`.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="Y-T slices and frame-difference strips of a video",
        description="Pictures of a video's temporal behaviour (the paper's Figs. 5 and 9).",
    )
    kinds = parser.add_subparsers(dest="plot", required=True, metavar="KIND")

    yt = kinds.add_parser(
        "yt-slice",
        help="column x of every frame stacked over time (row y, column t)",
        description="Write the Y-T slice of VIDEO: an image of height H and width T (frames) whose "
        "column t is column x of frame t. Window boundaries are marked below it when a layout is known.",
    )
    _common(yt)
    yt.add_argument("--x", type=int, metavar="COL", help="the frame column to slice (default: the middle)")
    yt.add_argument(
        "--time-scale", type=int, default=1, metavar="K", help="repeat each time column K times (default 1)"
    )
    yt.add_argument("--max-frames", type=int, metavar="N", help="slice at most the first N frames")
    yt.set_defaults(run=run_yt_slice)

    diff = kinds.add_parser(
        "frame-diff",
        help="a strip of |frame t+1 - frame t| thumbnails",
        description="Write thumbnails of the absolute difference of consecutive frames, left to right; "
        "boundary transitions of a window layout get a red frame.",
    )
    _common(diff)
    diff.add_argument("--start", type=int, default=0, metavar="T", help="first transition T -> T+1")
    diff.add_argument("--count", type=int, default=16, metavar="N", help="number of thumbnails (default 16)")
    diff.add_argument("--gain", type=float, default=4.0, help="brightness gain on the differences (4)")
    diff.add_argument("--height", type=int, default=160, metavar="PX", help="thumbnail height (default 160)")
    diff.set_defaults(run=run_frame_diff)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, metavar="VIDEO", help="video file or folder of images")
    parser.add_argument("--out", type=Path, required=True, metavar="PNG", help="output image (.png or .jpg)")
    windows = parser.add_mutually_exclusive_group()
    windows.add_argument(
        "--windows", type=Path, metavar="JSON",
        help="window layout of the generation (default: VIDEO's X.windows.json when it exists)",
    )  # fmt: skip
    windows.add_argument("--no-windows", action="store_true", help="do not mark window boundaries")


def _layout(args: argparse.Namespace):
    from mimicmotion.windows import find_window_layout, load_window_layout

    if args.no_windows:
        return None
    return load_window_layout(args.windows) if args.windows else find_window_layout(args.video)


def run_yt_slice(args: argparse.Namespace) -> int:
    from mimicmotion.eval.plots import plot_yt_slice

    path = plot_yt_slice(args.video, args.out, args.x, _layout(args), args.time_scale, args.max_frames)
    print(f"wrote {path}")
    return 0


def run_frame_diff(args: argparse.Namespace) -> int:
    from mimicmotion.eval.plots import plot_frame_differences

    path = plot_frame_differences(
        args.video, args.out, args.start, args.count, args.gain, args.height, _layout(args)
    )
    print(f"wrote {path}")
    return 0
