"""`mimicmotion export`: a training run's weights as a checkpoint the inference pipeline loads."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import option, parse
from mimicmotion.train.checkpoint import EXPORT_DTYPES, EXPORT_WEIGHTS


@dataclass
class ExportCommand:
    run_dir: Path | None = option(
        None, "run folder or one of its checkpoint folders", metavar="RUN", positional=True
    )
    out: Path | None = option(
        None, "checkpoint to write: .safetensors or .pth", metavar="FILE", required=True
    )
    weights: str = option("model", "the trained weights or their EMA", choices=EXPORT_WEIGHTS, metavar="NAME")
    dtype: str = option(
        "float16", "precision of the exported weights (float16: as the released checkpoint)",
        choices=tuple(EXPORT_DTYPES), metavar="DTYPE",
    )  # fmt: skip


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Export the newest checkpoint of RUN (or the checkpoint folder RUN) in the released layout (unet.* "
        "and pose_net.* keys), readable by `MimicMotionPipeline.from_pretrained(checkpoint=...)` and "
        "`mimicmotion animate --checkpoint`."
    )
    add_settings(parser, ExportCommand)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.train.checkpoint import export_checkpoint

    command = parse(args, ExportCommand)
    out = export_checkpoint(command.run_dir, command.out, weights=command.weights, dtype=command.dtype)
    print(out)
    return 0
