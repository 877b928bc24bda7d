"""The README documents the command line as it is: every option of `animate` in its section, and no option
there that `animate` lacks."""

import argparse
import re
from pathlib import Path

from mimicmotion.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def animate_options() -> set[str]:
    parser = build_parser(["animate"])
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    return {
        name
        for action in commands.choices["animate"]._actions
        if action.help != argparse.SUPPRESS  # former names, kept working but hidden
        for name in action.option_strings
        if name.startswith("--") and not name.startswith("--no-") and name != "--help"
    }


def test_the_readme_documents_every_animate_option_and_no_other():
    text = README.read_text()
    section = text[text.index("## The main job") : text.index("## The web app")]
    table = section[: section.index("Defaults equal the released config")]
    rows = set(re.findall(r"^\| `(--[a-z0-9-]+)", table, re.MULTILINE))
    options = animate_options()
    assert len(rows) > 20  # the table was found
    assert rows <= options, f"documented but not options of animate: {sorted(rows - options)}"
    mentioned = set(re.findall(r"--[a-z0-9-]+", section))
    assert options <= mentioned, f"options of animate missing from the README: {sorted(options - mentioned)}"
