"""Settings: every option declared once, on a dataclass field; the command line and YAML come from it.

A settings class is a dataclass whose fields are declared with `option(default, help, ...)`. From it:
- `add_options` declares the argparse options: `--field-name` (or the declared flag), old spellings
  as hidden aliases, and a --help line with the default and the choices. Every option defaults to
  "not given", so that a config file's value holds unless the command line overrides it;
- `given` / `parse` read back what the command line gave, converted;
- `from_mapping` applies a mapping (a YAML file's, see `read_yaml`) to the defaults or to other settings.
`convert` is the one type conversion behind both (str, int, float, bool, Path, X | None,
tuple[X, ...], choices); its errors are one line naming where the value came from.

On the command line a boolean is `--name` / `--no-name` (an option already called `--no-...` is a plain
switch); a tuple is one comma-separated value, or with `repeat=True` the option given once per item.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import os
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from mimicmotion.errors import MimicMotionError

_KEY = "mimicmotion.option"
_NULLS = ("null", "none", "")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Option:
    """How a setting is spelled and explained on the command line (see `option`)."""

    help: str
    choices: tuple[str, ...] | None = None
    flag: str | None = None
    aliases: tuple[str, ...] = ()
    metavar: str | None = None
    required: bool = False
    positional: bool = False
    repeat: bool = False


def option(
    default: Any = MISSING,
    help: str = "",
    *,
    choices: Iterable[str] | None = None,
    flag: str | None = None,
    aliases: Iterable[str] = (),
    metavar: str | None = None,
    required: bool = False,
    positional: bool = False,
    repeat: bool = False,
) -> Any:
    """A dataclass field that is a setting: its default, its help text and its spelling.

    `choices`: the values allowed, checked wherever the value comes from. `flag`: the command-line
    spelling (default `--field-name`); `aliases`: old spellings, still accepted, hidden from --help.
    `required` / `positional`: on the command line. `repeat`: a tuple given by repeating the option.
    """
    spec = Option(
        help,
        None if choices is None else tuple(choices),
        flag,
        tuple(aliases),
        metavar,
        required,
        positional,
        repeat,
    )
    return dataclasses.field(default=default, metadata={_KEY: spec})


# ------------------------------------------------------------------------------------ command line


def add_options(
    parser: argparse.ArgumentParser, cls: type, *, leave_out: Iterable[str] = (), title: str | None = None
) -> None:
    """The command-line options of the settings class `cls` (in a group called `title` if given).

    The fields `cls` declares itself come first, then those it inherits. Nothing has a default on the
    parser: `given` tells the options given from the others.
    """
    target = parser.add_argument_group(title) if title else parser
    leave_out = set(leave_out)
    chosen = [f for f in fields(cls) if _KEY in f.metadata and f.name not in leave_out]
    depth = {f.name: _declaring_depth(cls, f.name) for f in chosen}
    for f in sorted(chosen, key=lambda f: depth[f.name]):  # sorted() keeps the field order within a class
        _add_option(target, cls, f)


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The settings of `cls` given on the command line (options added by `add_options`), converted."""
    kinds = _field_types(cls)
    values = {}
    for f in fields(cls):
        raw = getattr(args, _dest(cls, f.name), None)
        if raw is not None:
            values[f.name] = _convert(kinds[f.name], raw, _spelling(f), _spec(f).choices)
    return values


def flag_given(args: argparse.Namespace, name: str) -> bool:
    """Whether a true/false setting called `name`, of whichever class declared it, was set on the command
    line (the CLI asks for `quiet` before any command has parsed its settings)."""
    return any(value is True for key, value in vars(args).items() if key.rpartition(".")[2] == name)


def parse(args: argparse.Namespace, cls: type) -> Any:
    """An instance of `cls`: its defaults, with what the command line gave."""
    return cls(**given(args, cls))


def _add_option(target: Any, cls: type, f: dataclasses.Field) -> None:
    spec = _spec(f)
    kind = _field_types(cls)[f.name]
    text = _help_text(spec, f)
    if spec.positional:
        target.add_argument(_dest(cls, f.name), metavar=spec.metavar or f.name.upper(), help=text)
        return
    common = {"dest": _dest(cls, f.name), "default": None, "required": spec.required}
    if kind is bool:
        # `--name` / `--no-name`, so that the command line can undo a config file's value either way
        switch = _spelling(f).startswith("--no-")
        action = "store_true" if switch else argparse.BooleanOptionalAction
        target.add_argument(_spelling(f), action=action, help=text, **common)
        if spec.aliases:
            target.add_argument(*spec.aliases, action=action, help=argparse.SUPPRESS, **common)
        return
    common |= {"action": "append" if spec.repeat else "store", "metavar": spec.metavar or "VALUE"}
    target.add_argument(_spelling(f), help=text, **common)
    if spec.aliases:
        target.add_argument(*spec.aliases, help=argparse.SUPPRESS, **common | {"required": False})


def _help_text(spec: Option, f: dataclasses.Field) -> str:
    notes = []
    if spec.choices:
        notes.append(f"choices: {', '.join(spec.choices)}")
    default = _default(f)
    switch = _spelling(f).startswith("--no-")  # a plain switch: off unless given
    if not (spec.required or spec.positional or switch) and default is not None and default != ():
        notes.append(f"default: {_shown(default)}")
    text = spec.help + (f" ({'; '.join(notes)})" if notes else "")
    return text.replace("%", "%%")  # argparse %-formats help texts


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


@dataclass(frozen=True)
class Declared:
    """One setting of a settings class as declared: what a form (the app's) needs to show it."""

    name: str
    kind: Any  # the field's type, e.g. int, int | None, tuple[str, ...]
    default: Any
    spec: Option
    spelling: str  # the command-line spelling, e.g. "--max-frames"

    @property
    def shown_default(self) -> str:
        """The default as the command line's --help writes it (a tuple: comma-separated)."""
        return "" if self.default is None else _shown(self.default)


def declared(cls: type, *, leave_out: Iterable[str] = ()) -> list[Declared]:
    """The settings `cls` declares with `option`, in the order of `add_options` (its own fields first)."""
    leave_out = set(leave_out)
    kinds = _field_types(cls)
    chosen = [f for f in fields(cls) if _KEY in f.metadata and f.name not in leave_out]
    chosen.sort(key=lambda f: _declaring_depth(cls, f.name))
    return [Declared(f.name, kinds[f.name], _default(f), _spec(f), _spelling(f)) for f in chosen]


# ------------------------------------------------------------------------------------------ values


def convert(cls: type, name: str, value: Any, where: str) -> Any:
    """`value` as the type of the field `name` of `cls`, checked against its choices.

    `where` names the value in the error, e.g. "run.yaml: num_frames" or "--num-frames".
    """
    f = next((f for f in fields(cls) if f.name == name), None)
    if f is None:
        raise KeyError(f"{cls.__name__} has no field {name!r}")  # a programming error
    return _convert(_field_types(cls)[name], value, where, _spec(f).choices)


def from_mapping(cls: type, values: Mapping[str, Any], source: str, base: Any = None) -> Any:
    """`base` (default: the defaults of `cls`) with `values` applied; unknown keys and bad values are
    one-line MimicMotionErrors that start with `source`."""
    check_keys(values, [f.name for f in fields(cls)], source)
    changes = {key: convert(cls, key, value, f"{source}: {key}") for key, value in values.items()}
    return dataclasses.replace(cls() if base is None else base, **changes)


def check_keys(values: Mapping[str, Any], known: Iterable[str], source: str) -> None:
    """A MimicMotionError naming the keys of `values` that are not `known`, with the closest known one."""
    known = list(known)
    unknown = [key for key in values if key not in known]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), known, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise MimicMotionError(f"{source}: unknown setting{'s' * (len(hints) > 1)} {', '.join(hints)}")


def check_choices(settings: Any) -> None:
    """A MimicMotionError for a field whose value is not one of its choices (for settings made in Python)."""
    for f in fields(settings):
        choices = _spec(f).choices
        if choices:
            value = getattr(settings, f.name)
            for item in value if isinstance(value, tuple) else (value,):
                _check_choice(f.name, item, choices)


def _convert(kind: Any, value: Any, where: str, choices: tuple[str, ...] | None) -> Any:
    optional = _is_optional(kind)
    if optional:
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
        if value is None or (isinstance(value, str) and value.strip().lower() in _NULLS):
            return None
    if typing.get_origin(kind) is tuple:
        item_kind = typing.get_args(kind)[0]
        items = [s.strip() for s in value.split(",") if s.strip()] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise MimicMotionError(f"{where} must be a list, got {value!r}")
        return tuple(_convert(item_kind, item, where, choices) for item in items)
    converted = _convert_plain(kind, value, f"{where} must be {_type_name(kind)}{' or null' * optional}")
    if choices is not None:
        _check_choice(where, converted, choices)
    return converted


def _convert_plain(kind: Any, value: Any, problem: str) -> Any:
    """`value` as int, float, bool, str or Path, or a MimicMotionError saying `problem`."""
    failure = MimicMotionError(f"{problem}, got {value!r}")
    if value is None or isinstance(value, (dict, list, tuple)):
        raise failure
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise failure
    if isinstance(value, bool):
        if kind is str:
            raise MimicMotionError(
                f"{problem}, got {value!r} (quote it: YAML reads yes, no, on, off as true/false)"
            )
        raise failure
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise failure from None
    if kind is float:
        try:  # YAML reads "1e-5" (no dot) as a string; float() reads it as a number
            return float(str(value).strip()) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            raise failure from None
    if kind is str:
        return str(value)
    if kind is Path:
        return Path(str(value))
    raise TypeError(f"unsupported settings field type {kind}")  # a programming error, not user input


def _check_choice(where: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise MimicMotionError(f"{where} must be one of {', '.join(choices)}, got {value!r}")


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", Path: "a path"}


def _type_name(kind: Any) -> str:
    return _TYPE_NAMES[kind]


def _is_optional(kind: Any) -> bool:
    return typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind)


# ------------------------------------------------------------------------------------------- files


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """The mapping in a YAML file ({} for an empty file); a one-line MimicMotionError for anything else."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise MimicMotionError(f"config file not found: {path}")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise MimicMotionError(f"cannot read config {path}: {_yaml_problem(error)}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MimicMotionError(f"cannot read config {path}: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise MimicMotionError(
            f"config {path} must be a mapping of `key: value` lines, not a {type(document).__name__}"
        )
    return document


def _yaml_problem(error: Exception) -> str:
    """PyYAML's several-line message as one line: the problem and where it is."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(error).split())


# ---------------------------------------------------------------------------------------- fields


def _spec(f: dataclasses.Field) -> Option:
    return f.metadata.get(_KEY) or Option(help="")


def _spelling(f: dataclasses.Field) -> str:
    spec = _spec(f)
    if spec.positional:
        return spec.metavar or f.name.upper()
    return spec.flag or "--" + f.name.replace("_", "-")


def _dest(cls: type, name: str) -> str:
    # One namespace entry per (settings class, field): two classes on one parser never mix their values.
    return f"{cls.__name__}.{name}"


def _default(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def _declaring_depth(cls: type, name: str) -> int:
    """0 when `cls` declares the field itself, 1 for its parent's, ..."""
    return next(i for i, k in enumerate(cls.__mro__) if name in vars(k).get("__annotations__", {}))


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}
