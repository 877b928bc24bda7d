"""`mimicmotion download`: fetch the weights into the Hugging Face cache ahead of time."""

from __future__ import annotations

import argparse

from mimicmotion.config import DEFAULT_BASE, DEFAULT_CHECKPOINT


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "download",
        help="prefetch the base model, the MimicMotion checkpoint and DWPose",
        description="Download the files that `animate` reads into the Hugging Face cache (HF_HOME), "
        "so later runs work offline: the base model (only the files actually used: configs, fp16 VAE and "
        "image encoder; the unet weights come from the checkpoint), the checkpoint and DWPose.",
    )
    parser.add_argument(
        "--base-model", default=DEFAULT_BASE, help="hub id of the SVD base (default: %(default)s)"
    )
    parser.add_argument(
        "--checkpoint",
        default=DEFAULT_CHECKPOINT,
        help="hub file owner/repo/file of the checkpoint (default: %(default)s)",
    )
    parser.add_argument(
        "--no-dwpose",
        dest="dwpose",
        action="store_false",
        help="skip the DWPose ONNX models (yzd-v/DWPose, the pose detector the checkpoint was trained with)",
    )
    # fetched by default now; the old opt-in spelling still works
    parser.add_argument("--dwpose", dest="dwpose", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--with-unet",
        action="store_true",
        help="also fetch the base's own unet weights (needed only to train from SVD)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.loading import resolve_base, resolve_checkpoint

    print(f"base model: {resolve_base(args.base_model, with_unet_weights=args.with_unet)}")
    print(f"checkpoint: {resolve_checkpoint(args.checkpoint)}")
    if args.dwpose:
        from mimicmotion.pose.dwpose import resolve_weights

        for path in resolve_weights():
            print(f"dwpose: {path}")
    return 0
