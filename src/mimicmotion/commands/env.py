"""`mimicmotion env`: the installation, devices and cached weights, to paste into a bug report."""

from __future__ import annotations

import argparse


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Print what a bug report needs, as Markdown to paste into the issue: the versions of Python, torch "
        "and the other packages, the devices torch sees, and which weights are in the Hugging Face cache "
        "and where. Reads only this machine (never the network)."
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.environment import collect

    print(markdown(collect()))
    return 0


def markdown(report: dict[str, dict[str, str]]) -> str:
    """The report as a Markdown list: one item per section, one sub-item per fact."""
    lines = ["## Environment (`mimicmotion env`)", ""]
    for title, facts in report.items():
        lines.append(f"- **{title}**")
        lines.extend(f"  - {name}: {value}" for name, value in facts.items())
    return "\n".join(lines)
