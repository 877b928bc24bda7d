"""Training settings: YAML file, command-line overrides, checks, and the shipped example."""

import dataclasses

import pytest
import yaml

from mimicmotion.cli import main
from mimicmotion.errors import MimicMotionError
from mimicmotion.settings import read_yaml
from mimicmotion.train.config import (
    ACCELERATE_CONFIGS,
    PACKAGED_CONFIG,
    TrainConfig,
    load_config,
    resumed_config,
)


def test_shipped_example_is_complete_and_holds_the_papers_settings():
    values = read_yaml(PACKAGED_CONFIG)
    assert set(values) == {f.name for f in dataclasses.fields(TrainConfig)}
    config = load_config(PACKAGED_CONFIG)
    assert config == TrainConfig()  # the file documents the defaults
    # Paper appendix A.
    assert (config.height, config.width, config.num_frames) == (1024, 576, 16)
    assert (config.learning_rate, config.warmup_steps, config.hand_weight) == (1e-5, 500, 10.0)
    assert (config.p_mean, config.p_std, config.epochs) == (0.5, 1.4, 20)
    for name in ACCELERATE_CONFIGS:
        assert isinstance(
            yaml.safe_load((PACKAGED_CONFIG.parent / "accelerate" / f"{name}.yaml").read_text()), dict
        )


def test_command_line_beats_file_beats_defaults(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("learning_rate: 1e-4\nnum_frames: 8\nmax_steps: 100\nema: yes\n")
    config = load_config(path, {"num_frames": "4", "max_steps": "null"})
    assert config.learning_rate == 1e-4  # YAML reads "1e-4" as text; it is still a number here
    assert config.num_frames == 4 and config.max_steps is None and config.ema is True
    assert config.warmup_steps == TrainConfig().warmup_steps


@pytest.mark.parametrize(
    "values,message",
    [
        ({"learning_rat": 1e-5}, "did you mean 'learning_rate'"),
        ({"num_frames": "many"}, "num_frames must be an integer"),
        ({"num_frames": 1}, "num_frames must be at least 2"),
        ({"ema": "maybe"}, "ema must be true or false"),
        ({"mixed_precision": "fp8"}, "mixed_precision must be one of"),
        ({"height": 100}, "multiples of 8"),
        ({"uncond_prob": 1.5}, "uncond_prob"),
        ({"max_frame_interval": 0}, "max_frame_interval"),
        ({"max_steps": 0}, "max_steps must be at least 1"),
    ],
)
def test_bad_settings_are_one_clear_error(tmp_path, values, message):
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(values))
    with pytest.raises(MimicMotionError, match=message):
        load_config(path)


def test_a_config_file_must_be_a_mapping(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(MimicMotionError, match="mapping"):
        load_config(path)


def test_resuming_may_change_the_length_but_not_the_training():
    saved = TrainConfig(max_steps=10)
    assert resumed_config(saved, {"max_steps": "20", "checkpoint_every": "5"}).max_steps == 20
    assert resumed_config(saved, {"learning_rate": "1e-5"}).learning_rate == 1e-5  # unchanged value is fine
    with pytest.raises(MimicMotionError, match="cannot change learning_rate"):
        resumed_config(saved, {"learning_rate": "2e-5"})


def test_cli_config_errors_exit_with_code_2(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("batch_sise: 2\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "did you mean 'batch_size'" in capsys.readouterr().err
    assert main(["train", "--num-frames", "x"]) == 2
    assert "--num-frames must be an integer" in capsys.readouterr().err
    bad.write_text("learning_rate: [1e-5\nema: true\n")  # malformed YAML
    assert main(["train", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and f"cannot read config {bad}" in err and "line 2" in err


def test_write_configs_copies_the_examples(tmp_path, capsys):
    assert main(["train", "--write-configs", str(tmp_path / "cfg")]) == 0
    assert load_config(tmp_path / "cfg" / "train.yaml") == TrainConfig()
    for name in ACCELERATE_CONFIGS:
        assert (tmp_path / "cfg" / "accelerate" / f"{name}.yaml").is_file()
    assert main(["train", "--write-configs", str(tmp_path / "cfg")]) == 2  # never overwrites
    assert "not overwriting" in capsys.readouterr().err
