"""The `mimicmotion` command.

Each subcommand lives in `mimicmotion.commands.<name>` and provides `add_parser(subparsers)`,
which registers its options and sets `run=<function(args) -> int>`. Subcommands only parse
options and call library functions; the work happens in the library.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from importlib import import_module

from mimicmotion import __version__
from mimicmotion.errors import MimicMotionError

COMMANDS = (
    "animate",
    "download",
    "pose",
    "prepare_data",
    "train",
    "export",
    "evaluate",
    "plot",
    "compare_fusion",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mimicmotion",
        description="Pose-guided human video generation (MimicMotion on Stable Video Diffusion).",
    )
    parser.add_argument("--version", action="version", version=f"mimicmotion {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        import_module(f"mimicmotion.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with messages(quiet=bool(getattr(args, "quiet", False))):
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
