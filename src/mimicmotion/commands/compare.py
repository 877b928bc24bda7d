"""`mimicmotion compare`: one input, settings varied, the videos side by side."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

from mimicmotion.commands.animate import add_generation_options, given_options
from mimicmotion.config import AnimateSettings
from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import option, parse


@dataclass
class Comparison:
    out: Path | None = option(
        None, "folder for the videos, the grid and the report", metavar="DIR", required=True
    )
    vary: tuple[str, ...] = option(
        (),
        "an animate option and the values to try, e.g. pose-strength=0.5,1,1.5 (values that are lists: "
        "separated by ';', e.g. 'pose-interval=0,0.5;0,1'); repeat it to try every combination",
        metavar="NAME=V1,V2,...",
        repeat=True,
        required=True,
    )
    columns: int = option(4, "videos per row of the grid", metavar="N")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run the same generation (same seed, inputs and other options) once per value of the options "
        "given with --vary, loading the model once. Writes OUT/<variant>.mp4 for each, OUT/grid.mp4 with "
        "all of them side by side, and OUT/compare.json with each variant's settings and smoothness "
        "(mean consecutive-frame difference and boundary flicker, also printed)."
    )
    add_settings(parser, Comparison)
    add_generation_options(parser, leave_out=("out", "side_by_side", "resume"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.animate import check_inputs, check_output, shared_loader
    from mimicmotion.compare import (
        compare,
        file_name,
        measure,
        parse_vary,
        summary_table,
        write_grid,
        write_report,
    )
    from mimicmotion.errors import MimicMotionError
    from mimicmotion.video import make_folder

    options = parse(args, Comparison)
    if options.columns < 1:
        raise MimicMotionError(f"columns must be at least 1, got {options.columns}")
    folder = options.out
    settings = AnimateSettings(**given_options(args))
    variants = parse_vary(list(options.vary))
    cases = [settings.replace(**v.changes, out=folder / file_name(v)) for v in variants]
    for case in cases:  # every variant is checked before the first one runs
        check_inputs(case)
    make_folder(folder)
    for case in cases:
        check_output(case)
    videos = compare(settings, folder, variants, shared_loader())
    summaries = {name: measure(video) for name, video in videos.items()}
    print(summary_table(summaries))
    grid = write_grid(folder / "grid.mp4", videos, options.columns)
    document = {
        "variants": [
            {
                "name": v.name,
                "video": videos[v.name].name,
                "changes": v.changes,
                "smoothness": asdict(summaries[v.name]),
            }
            for v in variants
        ],
        "grid": grid.name,
    }
    print(f"grid: {grid}")
    print(f"report: {write_report(folder / 'compare.json', document)}")
    return 0
