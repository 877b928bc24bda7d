"""The planner (mimicmotion.planner, `mimicmotion plan`), checked against figures computed independently:
by hand, by torch's FLOP counter on real CPU tensors, and the models' published sizes."""

from pathlib import Path

import pytest
import torch
from diffusers import UNetSpatioTemporalConditionModel
from helpers.tiny_models import save_tiny_base
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from mimicmotion.cli import main
from mimicmotion.models.conditioning import conditioned_prediction
from mimicmotion.modes import MODES, Mode
from mimicmotion.planner import find_gpu, plan_run
from mimicmotion.planner.architecture import build_architecture, read_config, weight_bytes
from mimicmotion.planner.stages import Size, unet
from mimicmotion.planner.tracing import trace

# A tiny run: 64x64 pictures (8x8 latents), windows of 4 frames.
TINY = dict(height=64, width=64, tile_size=4)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    return save_tiny_base(tmp_path_factory.mktemp("planner") / "base")


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_the_live_bytes_of_a_chain_of_linear_layers_peak_at_the_hand_computed_figure(device):
    with torch.device(device):
        chain = nn.Sequential(nn.Linear(64, 256), nn.Linear(256, 32))
    # Under no_grad the input (10 x 64 floats, held by the caller), the hidden layer (10 x 256) and the
    # output (10 x 32) are alive together while the second layer writes its output; nothing else is made.
    expected = 4 * 10 * (64 + 256 + 32)
    result = trace(lambda: chain(torch.zeros(10, 64, device=device)), [chain])
    assert result.peak_bytes == expected
    assert result.flops == 2 * 10 * (64 * 256 + 256 * 32)


def test_attention_costs_its_output_not_the_tokens_by_tokens_matrix():
    tokens, dim = 4096, 64

    def work() -> torch.Tensor:
        q, k, v = (torch.empty(1, 1, tokens, dim, device="meta") for _ in range(3))
        return nn.functional.scaled_dot_product_attention(q, k, v)

    result = trace(work)
    # q, k, v and the output (4 x tokens x dim floats) and the fused kernel's log-sum-exp (tokens floats);
    # the math path would also hold the 4096 x 4096 scores (64 MiB).
    assert result.peak_bytes == 4 * (4 * tokens * dim + tokens)
    assert result.flops == 4 * tokens * tokens * dim


def test_the_unet_flops_equal_torchs_count_on_real_tensors_with_math_attention(tiny_base):
    arch = build_architecture(tiny_base, "fp32")
    planned = unet(arch, Size(64, 64, 4)).flops
    torch.manual_seed(0)
    real = UNetSpatioTemporalConditionModel.from_config(read_config(tiny_base, "unet")).eval()
    config = real.config
    counter = FlopCounterMode(display=False)
    # The math backend computes attention as two counted matmuls, whose FLOPs the planner counts itself.
    with torch.no_grad(), counter, sdpa_kernel(SDPBackend.MATH):
        conditioned_prediction(
            real,
            torch.randn(1, 4, 4, 8, 8),
            torch.tensor(1.0),
            torch.randn(1, 4, 8, 8),
            torch.randn(1, 1, config.cross_attention_dim),
            torch.randn(1, 3),
            torch.randn(4, config.block_out_channels[0], 8, 8),
        )
    assert planned == counter.get_total_flops() > 0


def _stage(plan, label: str, stage: str) -> int:
    return next(m for m in plan.modes if m.mode.label() == label).stage_bytes[stage]


def test_the_memory_of_the_modes_is_ordered_as_their_levers_say(tiny_base):
    plan = plan_run(**TINY, base_model=tiny_base)
    assert _stage(plan, "--cfg-batch", "unet") > _stage(plan, "released", "unet")
    assert _stage(plan, "released", "unet") > _stage(plan, "--forward-chunking", "unet")
    assert _stage(plan, "--offload model", "unet") < _stage(plan, "released", "unet")
    chunked = "--offload model --forward-chunking"
    assert _stage(plan, "--offload sequential --forward-chunking", "unet") < _stage(plan, chunked, "unet")
    longer = plan_run(**{**TINY, "tile_size": 8}, base_model=tiny_base, modes=[Mode()])
    assert longer.modes[0].stage_bytes["unet"] > _stage(plan, "released", "unet")
    assert plan.gpu is None and all(m.seconds is None for m in plan.modes)  # no GPU named: no times


def test_fp32_weights_are_about_twice_fp16_weights(tiny_base):
    half, full = build_architecture(tiny_base, "fp16"), build_architecture(tiny_base, "fp32")
    for name in ("unet", "vae", "image_encoder", "pose_net"):
        # about twice: integer buffers (CLIP's position ids) keep their size
        assert weight_bytes(full.models()[name]) == pytest.approx(
            2 * weight_bytes(half.models()[name]), rel=0.01
        )


def test_the_shipped_configs_have_the_published_parameter_counts():
    # Published sizes: SVD's unet 1.52 B, its VAE 97.7 M, OpenCLIP ViT-H/14's image tower 632 M (with the
    # projection); PoseNet (MimicMotion, Table 3) is a few hundred thousand.
    arch = build_architecture()
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in arch.models().items()}
    assert round(counts["unet"] / 1e9, 2) == 1.52
    assert round(counts["vae"] / 1e6, 1) == 97.7
    assert round(counts["image_encoder"] / 1e6) == 632
    assert 1e5 < counts["pose_net"] < 1e6


def test_times_follow_the_flops_and_the_gpu(tiny_base):
    plan = plan_run(**TINY, base_model=tiny_base, gpu="NVIDIA GeForce RTX 4090", modes=[Mode()])
    estimate = plan.modes[0]
    # one window-step: two unet passes (guidance) and PoseNet, at 40 % of 165.2 TFLOP/s
    expected = (2 * plan.flops["unet"] + plan.flops["pose net"]) / (0.4 * 165.2e12)
    assert estimate.seconds_per_window_step == pytest.approx(expected)
    assert find_gpu("NVIDIA H100 PCIe").name == "H100 PCIe" and find_gpu("Tesla T4").name == "T4"
    assert find_gpu("NVIDIA L4").name == "L4" and find_gpu("NVIDIA L40S").name == "L40S"
    assert find_gpu("a GPU from the future") is None


def test_plan_prints_a_row_per_mode(tiny_base, capsys):
    args = ["plan", "--resolution", "64", "--tile-size", "4", "--base-model", str(tiny_base)]
    assert main([*args, "--gpu", "H100", "--vram-gib", "8"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.split("  ")[0].strip() in {m.label() for m in MODES}]
    assert len(rows) == len(MODES)
    assert all(line.rstrip().endswith(("yes", "no")) for line in rows)


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["--resolution", "500"], "multiple of 64"),
        (["--tile-size", "1"], "tile size must be at least 2"),
        (["--dtype", "fp8"], "fp8"),
        (["--base-model", "/nonexistent/base"], "not found"),
        (["--frames", "0"], "frames must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, phrase, capsys):
    assert main(["plan", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and phrase in err


def test_a_base_folder_without_a_config_is_refused(tmp_path, capsys):
    (tmp_path / "unet").mkdir()
    assert main(["plan", "--base-model", str(tmp_path)]) == 2
    assert "unet/config.json" in capsys.readouterr().err
