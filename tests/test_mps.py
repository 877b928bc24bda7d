"""`--device mps`: the decisions made for Apple's MPS, with torch's answers about MPS replaced.

No test here runs anything on MPS (this machine has none); they check which device, dtype and message
the settings lead to, and what the command line prepares before torch starts.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.eval_media import random_frames, write_frames

import mimicmotion.pipeline
from mimicmotion.animate import check_inputs, execution_device, execution_dtype, load_pipeline
from mimicmotion.cli import main
from mimicmotion.config import AnimateSettings
from mimicmotion.devices import MPS_FALLBACK, enable_mps_fallback, mps_fallback_enabled
from mimicmotion.errors import MimicMotionError


@pytest.fixture
def mps(monkeypatch):
    """A machine whose torch reports MPS available and no CUDA; `macos_14(False)` makes it an older macOS."""
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def macos_14(newer: bool) -> None:
        monkeypatch.setattr(torch.backends.mps, "is_macos_or_newer", lambda major, minor: newer)

    macos_14(True)
    return macos_14


@pytest.fixture
def no_mps(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def inputs(tmp_path):
    """Settings whose files are valid, so that the checks get as far as the device."""
    ref = write_frames(tmp_path / "ref", random_frames(1, 64, 48, seed=0)) / "0000.png"
    driving = write_frames(tmp_path / "driving", random_frames(2, 64, 48, seed=1))
    return AnimateSettings(ref=ref, driving=driving, out=tmp_path / "out.mp4")


def one_line_error(call) -> str:
    with pytest.raises(MimicMotionError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message
    return message


def test_mps_asked_for_where_it_is_not_available_is_one_line(no_mps, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)
    message = one_line_error(lambda: execution_device(AnimateSettings(device="mps")))
    assert message.startswith("--device mps was asked for but this torch has no MPS support")

    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)  # a Mac too old, or Rosetta
    message = one_line_error(lambda: execution_device(AnimateSettings(device="mps")))
    assert "Apple-silicon Mac" in message and "Rosetta" in message


def test_the_command_line_says_so_with_exit_code_2(no_mps, inputs, capsys):
    args = ["animate", "--ref", str(inputs.ref), "--driving", str(inputs.driving), "--out", str(inputs.out)]
    assert main([*args, "--device", "mps"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mimicmotion animate: error: --device mps was asked for but")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_mps_when_available_runs_in_fp16_by_default(mps):
    device = execution_device(AnimateSettings(device="mps"))
    assert device == torch.device("mps")
    assert execution_dtype(AnimateSettings(device="mps"), device) == torch.float16
    assert execution_dtype(AnimateSettings(device="mps", dtype="fp32"), device) == torch.float32


def test_auto_takes_cuda_first_then_mps_then_the_cpu(mps, monkeypatch):
    assert execution_device(AnimateSettings()) == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert execution_device(AnimateSettings()) == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert execution_device(AnimateSettings()) == torch.device("cpu")
    assert execution_dtype(AnimateSettings(), torch.device("cpu")) == torch.float32


def test_bf16_on_mps_needs_macos_14(mps):
    settings = AnimateSettings(device="mps", dtype="bf16")
    mps(False)
    assert "--dtype bf16 on MPS needs macOS 14" in one_line_error(lambda: execution_device(settings))
    assert "macOS 14" in one_line_error(lambda: execution_device(AnimateSettings(dtype="bf16")))  # auto
    mps(True)
    device = execution_device(settings)
    assert execution_dtype(settings, device) == torch.bfloat16


def test_devices_the_pipeline_is_not_written_for_are_refused(mps):
    for name in ("mps:1", "xpu", "meta"):
        message = one_line_error(lambda name=name: execution_device(AnimateSettings(device=name)))
        assert message == f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps"


def test_offload_stays_cuda_only(mps, inputs):
    message = one_line_error(lambda: check_inputs(inputs.replace(device="mps", offload="model")))
    assert "--offload" in message and "--device cuda" in message


class Loaded:
    """What `from_pretrained` returns in the next test: it records where it is sent, and runs nothing."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype, self.moved_to, self.offloaded = dtype, None, False

    def to(self, device):
        self.moved_to = device
        return self

    def enable_model_cpu_offload(self, device=None):
        self.offloaded = True


def test_load_pipeline_sends_the_model_to_mps_and_warns_without_the_fallback(mps, monkeypatch, caplog):
    monkeypatch.setattr(
        mimicmotion.pipeline.MimicMotionPipeline,
        "from_pretrained",
        classmethod(lambda cls, base, checkpoint, torch_dtype: Loaded(torch_dtype)),
    )
    monkeypatch.delenv(MPS_FALLBACK, raising=False)
    pipe = load_pipeline(AnimateSettings(device="mps"))
    assert (pipe.moved_to, pipe.dtype, pipe.offloaded) == (torch.device("mps"), torch.float16, False)
    assert f"{MPS_FALLBACK} is not set" in caplog.text

    caplog.clear()
    monkeypatch.setenv(MPS_FALLBACK, "1")
    load_pipeline(AnimateSettings(device="mps"))
    assert MPS_FALLBACK not in caplog.text


def test_the_command_line_enables_the_fallback_on_macos_only(monkeypatch):
    monkeypatch.delenv(MPS_FALLBACK, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    enable_mps_fallback()
    assert MPS_FALLBACK not in os.environ
    monkeypatch.setattr(sys, "platform", "darwin")
    enable_mps_fallback()
    assert os.environ[MPS_FALLBACK] == "1" and mps_fallback_enabled()
    monkeypatch.setenv(MPS_FALLBACK, "0")  # the user's own choice stands
    enable_mps_fallback()
    assert os.environ[MPS_FALLBACK] == "0" and not mps_fallback_enabled()


def test_the_command_line_starts_before_torch_is_imported():
    # torch reads the fallback variable when it is imported: the CLI sets it first, so it must get there
    # before anything imports torch.
    code = "import sys, mimicmotion.cli; sys.exit('torch' in sys.modules)"
    source = str(Path(mimicmotion.pipeline.__file__).parents[1])
    result = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": source}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr or "importing mimicmotion.cli imported torch"


def test_a_cuda_device_beyond_the_machine_is_refused_in_one_line(monkeypatch):
    import torch

    from mimicmotion.animate import execution_device
    from mimicmotion.config import AnimateSettings
    from mimicmotion.errors import MimicMotionError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert execution_device(AnimateSettings(device="cuda:1")) == torch.device("cuda:1")
    with pytest.raises(MimicMotionError, match="has 2 CUDA device"):
        execution_device(AnimateSettings(device="cuda:2"))
