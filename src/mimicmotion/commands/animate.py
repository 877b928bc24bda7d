"""`mimicmotion animate`: a photo and a dance video in, an mp4 out."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mimicmotion.config import AnimateSettings, read_released_config
from mimicmotion.errors import MimicMotionError
from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import given, option, parse


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


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Generate a video of the person in --ref performing the motion of --driving. "
        "Defaults are those of the released MimicMotion config."
    )
    add_settings(parser, ConfigFile)
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
    if config is None:
        return [AnimateSettings(**given_values)]

    cases = read_released_config(config)
    out = given_values.pop("out", None)
    folder = Path("outputs") if out is None else out
    if folder.suffix.lower() == ".mp4":
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
    from mimicmotion.video import make_folder

    cases = settings_from(args)
    for case in cases:  # every case is checked before the first one starts
        check_inputs(case)
    if parse(args, ConfigFile).config is not None:  # the released code wrote into a folder it created
        for folder in {Path(case.out).parent for case in cases}:
            make_folder(folder)
    for case in cases:
        check_output(case)
    load = shared_loader()
    for case in cases:
        animate(case, load)
    return 0
