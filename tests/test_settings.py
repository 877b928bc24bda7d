"""The settings mechanism: declaration -> command line -> given values; YAML -> settings; and the commands."""

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mimicmotion.cli import build_parser, main
from mimicmotion.errors import MimicMotionError
from mimicmotion.settings import add_options, check_choices, from_mapping, given, option, parse, read_yaml


@dataclass
class Example:
    size: int = option(576, "short side", metavar="PX")
    rate: float = option(1e-5, "learning rate")
    limit: int | None = option(None, "at most N")
    folder: Path | None = option(None, "a folder")
    style: str = option("plain", "how it looks", choices=("plain", "fancy"), aliases=("--look",))
    names: tuple[str, ...] = option(("a", "b"), "comma-separated names", choices=("a", "b", "c"))
    items: tuple[str, ...] = option((), "one per option", repeat=True)
    loud: bool = option(False, "say more")
    keep: bool = option(True, "keep things")


@dataclass
class Other:
    size: int = option(7, "another size")


def example_parser(*classes):
    parser = argparse.ArgumentParser(prog="example")
    for cls in classes or (Example,):
        add_options(parser, cls)
    return parser


def test_nothing_given_is_nothing_given_and_parse_gives_the_defaults():
    args = example_parser().parse_args([])
    assert given(args, Example) == {}
    assert parse(args, Example) == Example()


def test_given_values_are_converted_to_the_field_types():
    args = example_parser().parse_args(
        ["--size", "64", "--rate", "2e-4", "--limit", "null", "--folder", "out", "--look", "fancy",
         "--names", "c, a", "--items", "x,y", "--items", "z", "--loud", "--no-keep"]
    )  # fmt: skip
    assert given(args, Example) == {
        "size": 64,
        "rate": 2e-4,
        "limit": None,
        "folder": Path("out"),
        "style": "fancy",  # through the alias
        "names": ("c", "a"),
        "items": ("x,y", "z"),  # repeated: each value is one item
        "loud": True,
        "keep": False,
    }


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--size", "big"], "--size must be an integer, got 'big'"),
        (["--size", "1.5"], "--size must be an integer"),
        (["--limit", "x"], "--limit must be an integer or null, got 'x'"),
        (["--rate", "fast"], "--rate must be a number"),
        (["--style", "neon"], "--style must be one of plain, fancy, got 'neon'"),
        (["--look", "neon"], "--style must be one of plain, fancy"),
        (["--names", "a,d"], "--names must be one of a, b, c, got 'd'"),
    ],
)
def test_bad_command_line_values_name_the_option(argv, message):
    args = example_parser().parse_args(argv)
    with pytest.raises(MimicMotionError, match=message):
        given(args, Example)


def test_help_shows_defaults_and_choices_but_not_the_aliases():
    text = example_parser().format_help()
    assert "--size PX" in text and "short side (default: 576)" in text
    assert "(choices: plain, fancy; default: plain)" in text
    assert "(choices: a, b, c; default: a,b)" in text
    assert "--loud, --no-loud" in text and "(default: off)" in text and "(default: on)" in text
    assert "--look" not in text
    assert "at most N\n" in text  # no default to show


def test_two_classes_on_one_parser_keep_their_own_values():
    with pytest.raises(argparse.ArgumentError):  # the same flag twice is refused
        example_parser(Example, Other)
    parser = argparse.ArgumentParser()
    add_options(parser, Example, leave_out=("size",))
    add_options(parser, Other)
    args = parser.parse_args(["--size", "3"])
    assert given(args, Other) == {"size": 3} and given(args, Example) == {}


def test_a_mapping_is_converted_once_and_applied_to_a_base():
    base = Example(size=128, loud=True)
    values = {"size": 64.0, "rate": "1e-4", "limit": None, "folder": "out", "names": ["c"], "keep": "no"}
    result = from_mapping(Example, values, "run.yaml", base)
    assert result == Example(
        size=64, rate=1e-4, limit=None, folder=Path("out"), names=("c",), keep=False, loud=True
    )
    assert from_mapping(Example, {}, "run.yaml") == Example()


@pytest.mark.parametrize(
    "values,message",
    [
        ({"sise": 1}, r"run.yaml: unknown setting 'sise' \(did you mean 'size'\?\)"),
        ({"sise": 1, "zzz": 2}, r"unknown settings 'sise' \(did you mean 'size'\?\), 'zzz'"),
        ({"size": 1.5}, "run.yaml: size must be an integer, got 1.5"),
        ({"size": True}, "run.yaml: size must be an integer, got True"),
        ({"size": None}, "run.yaml: size must be an integer, got None"),
        ({"rate": [1]}, "run.yaml: rate must be a number"),
        ({"loud": "maybe"}, "run.yaml: loud must be true or false, got 'maybe'"),
        ({"style": "neon"}, "run.yaml: style must be one of plain, fancy, got 'neon'"),
        ({"style": False}, "run.yaml: style must be a string, got False .quote it"),
        ({"names": {"a": 1}}, "run.yaml: names must be a list"),
        ({"folder": {"a": 1}}, "run.yaml: folder must be a path or null"),
    ],
)
def test_bad_mapping_values_are_one_line_naming_source_and_key(values, message):
    with pytest.raises(MimicMotionError, match=message) as error:
        from_mapping(Example, values, "run.yaml")
    assert "\n" not in str(error.value)


def test_check_choices_catches_settings_made_in_python():
    check_choices(Example())
    with pytest.raises(MimicMotionError, match="names must be one of a, b, c, got 'z'"):
        check_choices(Example(names=("a", "z")))


def test_read_yaml(tmp_path):
    path = tmp_path / "s.yaml"
    with pytest.raises(MimicMotionError, match="config file not found"):
        read_yaml(path)
    path.write_text("")
    assert read_yaml(path) == {}
    path.write_text("size: 64\nrate: 1e-5\n")
    assert from_mapping(Example, read_yaml(path), str(path)) == Example(size=64, rate=1e-5)
    path.write_text("- 1\n- 2\n")
    with pytest.raises(MimicMotionError, match="must be a mapping of `key: value` lines, not a list"):
        read_yaml(path)
    path.write_text("size: 64\n  rate: [1\n")
    with pytest.raises(MimicMotionError, match=r"cannot read config .*\(line 2, column \d+\)") as error:
        read_yaml(path)
    assert "\n" not in str(error.value)
    path.write_bytes(b"size: \xff\n")
    with pytest.raises(MimicMotionError, match="cannot read config"):
        read_yaml(path)


# ---------------------------------------------------------------------------------------- the commands


@pytest.fixture(autouse=True)
def wide_help(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # argparse wraps long values (a hub id) at its hyphens


def help_of(capsys, *argv):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def option_help(text, flag):
    """The help of one option in `--help` output, on one line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(flag + " "))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("-"))
    return " ".join(" ".join(lines[start:end]).split())


def test_animate_and_pose_help_show_the_declared_defaults(capsys):
    for command in ("animate", "pose"):
        text = help_of(capsys, command)
        assert "(default: 576)" in option_help(text, "--resolution PX")
        assert "(default: 2)" in option_help(text, "--stride N")
        assert "choices: auto, dwpose, mediapipe; default: auto" in option_help(text, "--pose-backend NAME")
        assert "default: released" in option_help(text, "--pose-style STYLE")
        assert "--smooth, --no-smooth" in text
    animate = help_of(capsys, "animate")
    base = option_help(animate, "--base-model ID|DIR")
    assert "default: stabilityai/stable-video-diffusion-img2vid-xt-1-1" in base
    assert "default: 2.0" in option_help(animate, "--min-guidance SCALE")


def test_old_pose_option_names_work_but_are_not_shown(capsys):
    from mimicmotion.commands.pose import PoseCommand
    from mimicmotion.train.prepare import PrepareSettings

    commands = {
        "pose": (PoseCommand, ["--driving", "v.mp4", "--out", "p.npz", "--style", "threshold"]),
        "prepare-data": (PrepareSettings, ["--videos", "v", "--out", "d"]),
    }
    for command, (cls, argv) in commands.items():
        text = help_of(capsys, command)
        assert "--backend" not in text.replace("--pose-backend", "")
        assert "--style" not in text.replace("--pose-style", "")
        args = build_parser([command]).parse_args([command, *argv, "--backend", "mediapipe"])
        assert parse(args, cls).pose_backend == "mediapipe"
    assert parse(args, PrepareSettings) == PrepareSettings(pose_backend="mediapipe")
    args = build_parser(["pose"]).parse_args(["pose", *commands["pose"][1]])
    assert parse(args, PoseCommand).pose_style == "threshold"


def test_pose_old_spellings_reach_the_same_checks(tmp_path, capsys):
    args = ["pose", "--driving", str(tmp_path / "v.mp4"), "--out", str(tmp_path / "p.npz")]
    assert main([*args, "--backend", "openpose"]) == 2
    assert "--pose-backend must be one of auto, dwpose, mediapipe, got 'openpose'" in capsys.readouterr().err
    assert main([*args, "--style", "neon"]) == 2
    assert "--pose-style must be one of released, confidence, threshold" in capsys.readouterr().err


def test_the_command_list_loads_no_command():
    # Only the command that runs imports what its options name (torch, for most).
    code = "import sys; from mimicmotion.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
    code += "print('torch' in sys.modules, any(m.startswith('mimicmotion.commands.') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "False False"
    assert "compare-fusion" in result.stdout and "prepare-data" in result.stdout
