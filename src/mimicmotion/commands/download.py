"""`mimicmotion download`: fetch the weights into the Hugging Face cache ahead of time."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from mimicmotion.config import DEFAULT_CHECKPOINT, base_model_option
from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import option, parse


@dataclass
class DownloadCommand:
    base_model: str = base_model_option()
    checkpoint: str = option(
        DEFAULT_CHECKPOINT, "MimicMotion checkpoint to fetch: owner/repo/file on the hub", metavar="FILE"
    )
    dwpose: bool = option(
        True, "the DWPose ONNX models (yzd-v/DWPose, the pose detector the checkpoint was trained with)"
    )
    with_unet: bool = option(False, "also fetch the base's own unet weights (needed only to train from SVD)")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Download the files that `animate` reads into the Hugging Face cache (HF_HOME), so later runs work "
        "offline: the base model (only the files actually used: configs, fp16 VAE and image encoder; the "
        "unet weights come from the checkpoint), the checkpoint and DWPose."
    )
    add_settings(parser, DownloadCommand)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.loading import resolve_base, resolve_checkpoint

    command = parse(args, DownloadCommand)
    print(f"base model: {resolve_base(command.base_model, with_unet_weights=command.with_unet)}")
    print(f"checkpoint: {resolve_checkpoint(command.checkpoint)}")
    if command.dwpose:
        from mimicmotion.pose.dwpose import resolve_weights

        for path in resolve_weights():
            print(f"dwpose: {path}")
    return 0
