"""The `mimicmotion` command.

Each subcommand lives in `mimicmotion.commands.<name>` and provides `add_parser(subparsers)`,
which registers its options and sets `run=<function(args) -> int>`. Subcommands only parse
options and call library functions; the work happens in the library.
"""

from __future__ import annotations

import argparse
import sys
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
    try:
        return int(args.run(args) or 0)
    except MimicMotionError as error:
        print(f"mimicmotion {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mimicmotion {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
