"""`mimicmotion train`: train (or continue training) MimicMotion; the loop is `mimicmotion.train.loop`."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train MimicMotion on prepared data (accelerate: CPU, one or many GPUs)",
        description="Train the unet and PoseNet on data from `mimicmotion prepare-data`. Settings come from "
        "--config (YAML, see configs/train.yaml) and every one can be overridden by its own option. For "
        "several GPUs or nodes run it through "
        "`accelerate launch --config_file ... -m mimicmotion train ...`.",
    )
    parser.add_argument(
        "--config", type=Path, metavar="YAML", help="settings file (default: the paper's settings)"
    )
    parser.add_argument(
        "--resume", type=Path, metavar="RUN",
        help="continue the run in this folder from its newest checkpoint (or from this checkpoint folder); "
        "its saved settings are used, and only run-length/saving settings may be overridden",
    )  # fmt: skip
    parser.add_argument(
        "--write-configs", type=Path, metavar="DIR",
        help="copy the example train.yaml and the accelerate configs (ddp, deepspeed_zero2, fsdp) to DIR, "
        "then exit",
    )  # fmt: skip
    from mimicmotion.train.config import add_arguments

    add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.errors import MimicMotionError
    from mimicmotion.train import config as settings

    if args.write_configs is not None:
        return write_configs(args.write_configs)
    overrides = settings.overrides_from_args(args)
    if args.resume is not None:
        if args.config is not None:
            raise MimicMotionError(
                "--resume continues a run with its own saved config.yaml; do not pass --config"
            )
        from mimicmotion.train.checkpoint import CONFIG_FILE, resolve_checkpoint

        run_dir, _ = resolve_checkpoint(args.resume)
        saved = settings.from_values(settings.read_yaml(run_dir / CONFIG_FILE), str(run_dir / CONFIG_FILE))
        config = settings.resumed_config(saved, overrides)
    else:
        config = settings.load_config(args.config, overrides)

    from mimicmotion.train.loop import train

    run_dir = train(config, resume=args.resume)
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
