"""`mimicmotion compare-fusion`: one input, three fusion strategies, their temporal figures."""

from __future__ import annotations

import argparse
from pathlib import Path

from mimicmotion.commands.animate import DEFAULTS, add_generation_options, given_options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare-fusion",
        help="generate with the official, progressive and average fusion and compare their smoothness",
        description="Run the same generation (same seed) with each fusion strategy, write "
        "OUT/<fusion>.mp4 with its window layout, and report the mean consecutive-frame difference "
        "and the boundary flicker of each (also as OUT/compare-fusion.json).",
    )
    add_generation_options(parser, leave_out=("out", "fusion", "side_by_side"))
    parser.add_argument("--out", type=Path, required=True, help="folder for the three videos and the report")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.animate import check_inputs, check_output, shared_loader
    from mimicmotion.compare_fusion import compare_fusion, summary_table, write_report
    from mimicmotion.video import make_folder

    settings = DEFAULTS.replace(**{**given_options(args), "out": args.out / "official.mp4"})
    check_inputs(settings)
    make_folder(args.out)
    check_output(settings)
    summaries = compare_fusion(settings, args.out, shared_loader())
    print(summary_table(summaries))
    print(f"report: {write_report(args.out / 'compare-fusion.json', summaries, settings)}")
    return 0
