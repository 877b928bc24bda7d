"""`mimicmotion compare-fusion`: one input, three fusion strategies, their temporal figures."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mimicmotion.commands.animate import add_generation_options, given_options
from mimicmotion.config import AnimateSettings
from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import option, parse


@dataclass
class Output:
    out: Path | None = option(
        None, "folder for the three videos and the report", metavar="DIR", required=True
    )


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run the same generation (same seed) with each fusion strategy, write OUT/<fusion>.mp4 with its "
        "window layout, and report the mean consecutive-frame difference and the boundary flicker of each "
        "(also as OUT/compare-fusion.json)."
    )
    add_settings(parser, Output)
    add_generation_options(parser, leave_out=("out", "fusion", "side_by_side"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.animate import check_inputs, check_output, shared_loader
    from mimicmotion.compare_fusion import compare_fusion, fusion_table, write_fusion_report
    from mimicmotion.video import make_folder

    folder = parse(args, Output).out
    settings = AnimateSettings(**{**given_options(args), "out": folder / "official.mp4"})
    check_inputs(settings)
    make_folder(folder)
    check_output(settings)
    summaries = compare_fusion(settings, folder, shared_loader())
    print(fusion_table(summaries))
    print(f"report: {write_fusion_report(folder / 'compare-fusion.json', summaries, settings)}")
    return 0
