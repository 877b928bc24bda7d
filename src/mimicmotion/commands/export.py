"""`mimicmotion export`: a training run's weights as a checkpoint the inference pipeline loads."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a run's weights as a MimicMotion checkpoint (.safetensors or .pth)",
        description="Export the newest checkpoint of RUN (or the checkpoint folder RUN) in the released "
        "layout (unet.* and pose_net.* keys), readable by "
        "`MimicMotionPipeline.from_pretrained(checkpoint=...)` and `mimicmotion animate --checkpoint`.",
    )
    parser.add_argument(
        "run_dir", type=Path, metavar="RUN", help="run folder or one of its checkpoint folders"
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="checkpoint to write: .safetensors or .pth"
    )
    parser.add_argument(
        "--weights",
        choices=("model", "ema"),
        default="model",
        help="trained weights or their EMA (default model)",
    )
    parser.add_argument(
        "--dtype", choices=("float16", "bfloat16", "float32"), default="float16",
        help="precision of the exported weights (default float16, as the released checkpoint)",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.train.checkpoint import export_checkpoint

    out = export_checkpoint(args.run_dir, args.out, weights=args.weights, dtype=args.dtype)
    print(out)
    return 0
