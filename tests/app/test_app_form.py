"""The app's Advanced section comes from the AnimateSettings declarations, and its values are converted as
the command line converts them. No Gradio needed."""

from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from mimicmotion.app.form import CHECKBOX, DROPDOWN, NOT_IN_FORM, NUMBER, TEXT, form_fields, form_values
from mimicmotion.config import AnimateSettings
from mimicmotion.errors import MimicMotionError
from mimicmotion.settings import convert, option


def test_every_animate_option_but_those_the_app_sets_is_in_the_form_with_its_default_and_help():
    shown = {f.name: f for f in form_fields()}
    declared = {f.name: f for f in fields(AnimateSettings)}
    assert set(shown) == set(declared) - set(NOT_IN_FORM)
    defaults = AnimateSettings()
    for name, field in shown.items():
        assert field.help == declared[name].metadata["mimicmotion.option"].help
        default = getattr(defaults, name)
        if isinstance(default, tuple):  # a list is edited as the command line takes it: comma-separated
            assert field.widget == TEXT and convert(AnimateSettings, name, field.value, name) == default, name
        else:
            assert field.value == ("" if default is None else default), name
    assert shown["smooth"].widget == CHECKBOX
    assert (shown["retarget"].widget, shown["retarget"].choices) == (DROPDOWN, ("none", "linear", "limbs"))
    assert (shown["steps"].widget, shown["steps"].integer) == (NUMBER, True)
    assert (shown["noise_aug"].widget, shown["noise_aug"].integer) == (NUMBER, False)
    assert (shown["max_frames"].widget, shown["max_frames"].optional) == (TEXT, True)  # empty: all frames
    assert shown["fps"].widget == TEXT


@dataclass
class Extended(AnimateSettings):
    """Settings declared after the app was written: the form must show them without being told."""

    sharpen: bool = option(True, "sharpen the result")
    sampler: str = option("euler", "the sampler", choices=("euler", "dpm"))
    eta: float = option(0.5, "noise of each step")
    keep: tuple[int, ...] = option((1, 3), "frames to keep")
    note: str = option("", "a note")
    mask: Path | None = option(None, "a mask image")


def test_a_setting_added_to_the_declaration_appears_with_the_widget_of_its_type():
    shown = {f.name: f for f in form_fields(Extended)}
    assert (shown["sharpen"].widget, shown["sharpen"].value) == (CHECKBOX, True)
    assert (shown["sampler"].widget, shown["sampler"].choices) == (DROPDOWN, ("euler", "dpm"))
    assert (shown["eta"].widget, shown["eta"].value, shown["eta"].help) == (NUMBER, 0.5, "noise of each step")
    assert (shown["keep"].widget, shown["keep"].value) == (TEXT, "1,3")  # comma-separated, as in --help
    assert (shown["note"].widget, shown["mask"].widget, shown["mask"].optional) == (TEXT, TEXT, True)


def test_the_form_values_are_converted_as_on_the_command_line():
    chosen = [
        f for f in form_fields(Extended) if f.name in ("keep", "mask", "steps", "max_frames", "sampler")
    ]
    values = {"keep": " 2, 5 ", "mask": "", "steps": 3.0, "max_frames": "4", "sampler": "dpm"}
    converted = form_values(chosen, [values[f.name] for f in chosen], Extended)
    assert converted == {"keep": (2, 5), "mask": None, "steps": 3, "max_frames": 4, "sampler": "dpm"}
    assert type(converted["steps"]) is int


@pytest.mark.parametrize(
    ("name", "value"), [("max_frames", "many"), ("keep", "1,x"), ("sampler", "ddim"), ("steps", "2.5")]
)
def test_a_bad_value_is_the_command_lines_one_line_message_with_the_pages_label(name, value):
    (field,) = [f for f in form_fields(Extended) if f.name == name]
    with pytest.raises(MimicMotionError) as error:
        form_values([field], [value], Extended)
    with pytest.raises(MimicMotionError) as expected:
        convert(Extended, name, value, field.label)
    assert str(error.value) == str(expected.value)
    assert "\n" not in str(error.value) and str(error.value).startswith(field.label)
