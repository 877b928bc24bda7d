"""The `mimicmotion` command.

Each subcommand lives in `mimicmotion.commands.<name>` and provides `add_options(parser)`, which
declares its options (through `mimicmotion.settings`) and sets `run=<function(args) -> int>`.
Subcommands only parse options and call library functions; the work happens in the library.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from importlib import import_module

from mimicmotion import __version__
from mimicmotion.devices import enable_mps_fallback
from mimicmotion.errors import MimicMotionError
from mimicmotion.settings import flag_given

# The line `mimicmotion --help` shows for each command. A command's module is imported only when that
# command runs: its options name choices and defaults that live beside the code using them (torch, for
# most), and `mimicmotion --help` should not wait for that.
COMMANDS = {
    "animate": "animate the person of a photo with the motion of a dance video",
    "download": "prefetch the base model, the MimicMotion checkpoint and DWPose",
    "pose": "extract (and retarget / render) the poses of a driving video",
    "prepare-data": "detect the poses of a folder of training videos",
    "train": "train MimicMotion on prepared data (accelerate: CPU, one or many GPUs)",
    "export": "write a run's weights as a MimicMotion checkpoint (.safetensors or .pth)",
    "evaluate": "compare generated videos with ground truth (FID-VID, FVD, SSIM, PSNR, temporal)",
    "plot": "Y-T slices and frame-difference strips of a video",
    "compare": "generate with some animate options varied (same seed) and show the videos side by side",
    "compare-fusion": "generate with the official, progressive and average fusion and compare their "
    "smoothness",
    "app": "a local web app: upload, preview the poses, generate, download, see past jobs",
    "plan": "estimate a run's peak GPU memory and time for each mode (no weights or GPU needed)",
    "env": "print versions, devices and cached weights, to paste into a bug report",
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser for `argv`: every command listed, the options of the one `argv` names declared."""
    parser = argparse.ArgumentParser(
        prog="mimicmotion",
        description="Pose-guided human video generation (MimicMotion on Stable Video Diffusion).",
    )
    parser.add_argument("--version", action="version", version=f"mimicmotion {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The top-level options take no value, so the first word that is not an option is the command.
    named = next((word for word in argv if not word.startswith("-")), None)
    for name, text in COMMANDS.items():
        command = subparsers.add_parser(name, help=text)
        if name == named:
            import_module(f"mimicmotion.commands.{name.replace('-', '_')}").add_options(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Before any command imports torch, which reads this setting once, at import.
    enable_mps_fallback()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    with messages(quiet=flag_given(args, "quiet")):
        try:
            return int(args.run(args) or 0)
        except MimicMotionError as error:
            print(f"mimicmotion {args.command}: error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"mimicmotion {args.command}: interrupted", file=sys.stderr)
            return 130


@contextlib.contextmanager
def messages(quiet: bool) -> Iterator[None]:
    """What the library logs (logger "mimicmotion") as plain lines: notes on stdout unless `quiet`,
    warnings on stderr always."""
    logger = logging.getLogger("mimicmotion")
    notes = logging.StreamHandler(sys.stdout)
    notes.addFilter(lambda record: record.levelno < logging.WARNING)
    warnings = logging.StreamHandler(sys.stderr)
    warnings.setLevel(logging.WARNING)
    handlers = [warnings] if quiet else [notes, warnings]
    saved = logger.level, logger.propagate
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the lines are printed once, whatever the root logger does
    try:
        yield
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


if __name__ == "__main__":
    sys.exit(main())
