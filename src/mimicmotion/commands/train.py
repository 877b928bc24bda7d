"""`mimicmotion train`: train (or continue training) MimicMotion; the loop is `mimicmotion.train.loop`."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import given, option, parse
from mimicmotion.train.config import TrainConfig


@dataclass
class TrainCommand:
    config: Path | None = option(None, "settings file (default: the paper's settings)", metavar="YAML")
    resume: Path | None = option(
        None,
        "continue the run in this folder from its newest checkpoint (or from this checkpoint folder); its "
        "saved settings are used, and only run-length/saving settings may be overridden",
        metavar="RUN",
    )
    write_configs: Path | None = option(
        None,
        "copy the example train.yaml and the accelerate configs (ddp, deepspeed_zero2, fsdp) to DIR, "
        "then exit",
        metavar="DIR",
    )


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train the unet and PoseNet on data from `mimicmotion prepare-data`. Settings come from --config "
        "(YAML, see configs/train.yaml) and every one can be overridden by its own option. For several GPUs "
        "or nodes run it through `accelerate launch --config_file ... -m mimicmotion train ...`."
    )
    add_settings(parser, TrainCommand)
    add_settings(parser, TrainConfig, title="settings (override the config file; see `configs/train.yaml`)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.errors import MimicMotionError
    from mimicmotion.train.config import load_config, read_config, resumed_config

    command = parse(args, TrainCommand)
    if command.write_configs is not None:
        return write_configs(command.write_configs)
    overrides = given(args, TrainConfig)
    if command.resume is not None:
        if command.config is not None:
            raise MimicMotionError(
                "--resume continues a run with its own saved config.yaml; do not pass --config"
            )
        from mimicmotion.train.checkpoint import CONFIG_FILE, resolve_checkpoint

        run_dir, _ = resolve_checkpoint(command.resume)
        config = resumed_config(read_config(run_dir / CONFIG_FILE), overrides)
    else:
        config = load_config(command.config, overrides)

    from mimicmotion.train.loop import train

    run_dir = train(config, resume=command.resume)
    from accelerate import PartialState

    if PartialState().is_main_process:
        print(f"run: {run_dir}")
    return 0


def write_configs(folder: Path) -> int:
    from mimicmotion.errors import MimicMotionError
    from mimicmotion.train.config import ACCELERATE_CONFIGS, PACKAGED_CONFIG

    sources = [PACKAGED_CONFIG] + [
        PACKAGED_CONFIG.parent / "accelerate" / f"{n}.yaml" for n in ACCELERATE_CONFIGS
    ]
    targets = [folder / "train.yaml"] + [folder / "accelerate" / f"{n}.yaml" for n in ACCELERATE_CONFIGS]
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        raise MimicMotionError(f"not overwriting existing file(s): {', '.join(existing)}")
    for source, target in zip(sources, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        print(target)
    return 0
