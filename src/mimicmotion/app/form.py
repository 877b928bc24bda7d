"""The Advanced section of the app: one field per `animate` option, derived from the `AnimateSettings`
declarations (the same ones the command line is built from), so that defaults, help texts and choices
are never restated and a setting added there appears here by itself.

Values coming back from the page go through `mimicmotion.settings.convert`: a bad value gives the same
one-line message as on the command line.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimicmotion.config import AnimateSettings
from mimicmotion.settings import Declared, convert, declared

# Settings the app decides rather than the form:
# - the inputs and the output: the uploads and the job's folder;
# - the model: loaded once for every job, from the `mimicmotion app` command line with how it is placed
#   and compiled (as are DWPose's files: the page does not name folders of the server); --vram auto, which
#   plans one run's size, is for `animate`;
# - the console and interrupted runs: the page shows its own progress and has a cancel button;
# - side by side: the app always writes the result and the side-by-side video.
INPUTS = ("ref", "driving", "poses", "out")
SERVER = (
    "base_model", "checkpoint", "device", "dtype", "offload", "forward_chunking", "compile", "tf32",
    "dwpose_dir",
)  # fmt: skip
NOT_IN_FORM = (*INPUTS, *SERVER, "quiet", "resume", "side_by_side", "vram")

# How each kind of value is edited in the page.
CHECKBOX, DROPDOWN, NUMBER, TEXT = "checkbox", "dropdown", "number", "text"


@dataclass(frozen=True)
class FormField:
    """A setting as the page shows it."""

    name: str
    widget: str  # CHECKBOX, DROPDOWN, NUMBER or TEXT
    label: str
    help: str
    value: Any  # the widget's initial value: the setting's default
    choices: tuple[str, ...] | None = None
    integer: bool = False  # a NUMBER that takes whole numbers only
    optional: bool = False  # empty means "not set" (None)


def form_fields(cls: type = AnimateSettings, leave_out: Sequence[str] = NOT_IN_FORM) -> list[FormField]:
    """The fields of the Advanced section, in the order of `mimicmotion animate --help`."""
    return [_form_field(setting) for setting in declared(cls, leave_out=leave_out)]


def label(name: str) -> str:
    return name.replace("_", " ")


def _form_field(setting: Declared) -> FormField:
    kind, optional = _unwrap_optional(setting.kind)
    spec = setting.spec
    common = {"name": setting.name, "label": label(setting.name), "help": spec.help, "optional": optional}
    if typing.get_origin(kind) is tuple:  # comma-separated, as on the command line
        return FormField(widget=TEXT, value=setting.shown_default, **common)
    if kind is bool:
        return FormField(widget=CHECKBOX, value=bool(setting.default), **common)
    if spec.choices:
        return FormField(widget=DROPDOWN, value=setting.default, choices=spec.choices, **common)
    if kind in (int, float) and not optional:
        return FormField(widget=NUMBER, value=setting.default, integer=kind is int, **common)
    # a number that may be left unset is a text box: a number box has no "empty"
    return FormField(widget=TEXT, value=setting.shown_default, **common)  # str, Path, anything else


def _unwrap_optional(kind: Any) -> tuple[Any, bool]:
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind):
        rest = [k for k in typing.get_args(kind) if k is not type(None)]
        return (rest[0] if len(rest) == 1 else kind), True
    return kind, False


def form_values(
    fields: Sequence[FormField], values: Sequence[Any], cls: type = AnimateSettings
) -> dict[str, Any]:
    """The settings the page's widgets hold (in the order of `fields`), converted and checked; a bad one
    is a one-line MimicMotionError naming the field as the page labels it."""
    converted = {}
    for field, value in zip(fields, values, strict=True):
        if field.optional and (value is None or (isinstance(value, str) and not value.strip())):
            value = None
        elif isinstance(value, float) and field.integer and value.is_integer():
            value = int(value)  # a number box gives floats
        converted[field.name] = convert(cls, field.name, value, field.label)
    return converted


def settings_json(settings: AnimateSettings) -> dict[str, Any]:
    """The settings as JSON values (paths as strings, tuples as lists), for a job's record."""
    from dataclasses import asdict

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (tuple, list)):
            return [plain(item) for item in value]
        return value

    return {name: plain(value) for name, value in asdict(settings).items()}


def changed(values: Mapping[str, Any], fields: Sequence[FormField]) -> dict[str, Any]:
    """The values that differ from the defaults the form started with (for a job's title)."""
    defaults = {field.name: field.value for field in fields}
    return {name: value for name, value in values.items() if defaults.get(name) != value}
