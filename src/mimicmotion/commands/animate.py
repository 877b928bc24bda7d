"""`mimicmotion animate`: a photo and a dance video in, an mp4 out."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mimicmotion.config import EXAMPLE_OUT, EXAMPLE_SETTINGS, AnimateSettings, read_released_config
from mimicmotion.errors import MimicMotionError
from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import given, option, parse
from mimicmotion.video import VIDEO_OUTPUTS

if TYPE_CHECKING:
    from mimicmotion.estimate import Estimate


@dataclass
class Guidance:
    guidance: float | None = option(
        None, "one guidance scale for all frames: sets --min-guidance and --max-guidance", metavar="SCALE"
    )


@dataclass
class ConfigFile:
    config: Path | None = option(
        None,
        "released-format YAML (base_model_path, ckpt_path, test_case list): runs every case; options "
        "given here override it",
        metavar="YAML",
    )


@dataclass
class Example:
    example: bool = option(
        False,
        "run on the example shipped with the package (a photo and a 2.4-second dance as a pose file): "
        "--ref and --poses default to its files (not --poses when --driving is given), --out to "
        f"{EXAMPLE_OUT}",
    )


@dataclass
class RunControl:
    dry_run: bool = option(
        False,
        "load the weights, print the plan and its estimated cost (a note: not with --quiet), and stop; "
        "nothing is written, and the output need not be writable yet",
    )
    yes: bool = option(False, "do not ask before a run expected to take over an hour")
    parallel: str = option(
        "cases",
        "with several processes (accelerate launch): cases: each process runs its share of the --config "
        "cases; windows: the processes sample each video together, each its share of the windows",
        choices=("cases", "windows"),
        metavar="MODE",
    )


class Declined(Exception):
    """The person at the terminal chose not to start the run."""


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Generate a video of the person in --ref performing the motion of --driving. "
        "Defaults are those of the released MimicMotion config."
    )
    add_settings(parser, Example)
    add_settings(parser, ConfigFile)
    add_settings(parser, RunControl)
    add_generation_options(parser)
    parser.set_defaults(run=run)


def add_generation_options(parser: argparse.ArgumentParser, leave_out: tuple[str, ...] = ()) -> None:
    """The options of a generation: the AnimateSettings and --guidance."""
    add_settings(parser, AnimateSettings, leave_out=leave_out)
    add_settings(parser, Guidance)


def given_options(args: argparse.Namespace) -> dict:
    """The AnimateSettings fields given on the command line (--guidance sets both guidance ends)."""
    values = given(args, AnimateSettings)
    guidance = parse(args, Guidance).guidance
    if guidance is not None:
        values.setdefault("min_guidance", guidance)
        values.setdefault("max_guidance", guidance)
    return values


def settings_from(args: argparse.Namespace) -> list[AnimateSettings]:
    """One AnimateSettings per case: defaults, then the config file's case, then the command line."""
    given_values = given_options(args)
    config = parse(args, ConfigFile).config
    if parse(args, Example).example:
        if config is not None:
            raise MimicMotionError("--example and --config both say what to animate: give one of them")
        example = dict(EXAMPLE_SETTINGS)
        if "driving" in given_values:  # the motion of the video given, not the example's
            del example["poses"]
        given_values = {**example, **given_values}
    if config is None:
        return [AnimateSettings(**given_values)]

    cases = read_released_config(config)
    out = given_values.pop("out", None)
    folder = Path("outputs") if out is None else out
    if folder.suffix.lower() in VIDEO_OUTPUTS:  # a file: the one case's output
        if len(cases) > 1:
            raise MimicMotionError(f"{config} has {len(cases)} test cases: --out must be a folder")
        return [AnimateSettings(**{**cases[0], **given_values, "out": out})]
    settings, names = [], set()
    for number, case in enumerate(cases, start=1):
        merged = AnimateSettings(**{**case, **given_values})
        name = (
            f"{Path(merged.driving).stem}_{Path(merged.ref).stem}"
            if merged.driving and merged.ref
            else "case"
        )
        if name in names:
            name = f"{name}_{number}"
        names.add(name)
        settings.append(merged.replace(out=folder / f"{name}.mp4"))
    return settings


def run(args: argparse.Namespace) -> int:
    from mimicmotion.animate import animate, check_inputs, check_output, shared_loader
    from mimicmotion.parallel import WindowShare, launched

    cases = settings_from(args)
    control = parse(args, RunControl)
    config = parse(args, ConfigFile).config
    share = WindowShare.from_launch() if control.parallel == "windows" else None
    load = shared_loader()
    if not control.dry_run and (config is not None or (launched() and share is None)):
        return run_batch(cases, load, share, creates_folders=config is not None)

    for case in cases:  # every case is checked before the first one starts
        check_inputs(case)
    if not control.dry_run:  # a dry run writes nothing, so its output need not be writable yet
        for case in cases:
            check_output(case)
    try:
        for case in cases:
            animate(case, load, lambda estimate: ask(estimate, control.yes), control.dry_run, share)
    except Declined as declined:
        print(f"mimicmotion animate: not started ({declined}); nothing was written", file=sys.stderr)
        return 1
    return 0


def run_batch(cases: list[AnimateSettings], load, share, creates_folders: bool) -> int:
    """The cases as a batch (`mimicmotion.jobs`): shared among the launched processes (or, with `share`,
    each sampled by all of them together), finished ones skipped, failures reported; exit code 2 when a
    case failed. A batch runs unattended: it does not ask before long cases."""
    from mimicmotion.animate import animate
    from mimicmotion.jobs import REPORT_NAME, run_job, run_jobs, summary, write_report
    from mimicmotion.video import make_folder

    if creates_folders:  # the released code wrote into a folder it created
        for folder in {Path(case.out).parent for case in cases}:
            make_folder(folder)
    report = Path(cases[0].out).parent / REPORT_NAME
    if share is not None:  # every process takes part in every case
        results = [
            run_job(number, case, lambda c: animate(c, load, share=share), record=share.is_main)
            for number, case in enumerate(cases, start=1)
        ]
        if share.is_main:
            write_report(report, results)
    else:
        results = run_jobs(cases, lambda case: animate(case, load), report)
    if share is None or share.is_main:
        print(summary(results))
        print(f"report: {report}")
    return 2 if any(result.status == "failed" for result in results) else 0


def ask(estimate: Estimate, yes: bool) -> bool:
    """Go on with a run of this estimate; when it is long and someone is at a terminal, only if they say
    so (`yes` answers for them; a run without a terminal never waits). Declined raises Declined."""
    from mimicmotion import estimate as costs
    from mimicmotion.units import format_duration

    if yes or estimate.seconds <= costs.ASK_ABOVE_SECONDS or not interactive():
        return True
    expected = f"expected to take about {format_duration(estimate.seconds)}"
    try:
        answer = input(f"This run is {expected}. Start it? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise Declined(expected)
    return True


def interactive() -> bool:
    """Someone at a terminal: stdin and stdout are both terminals."""
    return sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()
