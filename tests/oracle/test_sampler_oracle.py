"""Same seed, same frames as the released pipeline: our sampler against the released code itself.

Both sides load the same tiny random weights from the same files (a diffusers base folder and a `.pth`
checkpoint in the released layout) and get the same prepared reference and pose pictures (uint8). The
released side runs as its inference.py runs it (tests/oracle/released_sampler.py), in fp16 (its default:
the default torch dtype set to float16) or in fp32 (`--no_use_float16`, all components in float32).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.oracle import run_released
from helpers.tiny_models import checkpoint_state, save_checkpoint, save_tiny_base, tiny_pose_net, tiny_unet

from mimicmotion import MimicMotionPipeline

pytestmark = pytest.mark.slow  # the released pipeline runs beside ours

CASES = {
    # 13 frames in windows of 8 sharing 3: two regular windows and the extra last one
    "fp32-13": dict(dtype="fp32", frames=13, height=32, width=32, tile_size=8, tile_overlap=3,
                    steps=3, min_guidance=2.0, max_guidance=2.0, noise_aug=0.0, seed=42),
    # windows longer than 8 frames, a guidance ramp, noise augmentation, a non-square frame
    "fp32-20": dict(dtype="fp32", frames=20, height=32, width=48, tile_size=12, tile_overlap=2,
                    steps=3, min_guidance=1.0, max_guidance=3.0, noise_aug=0.02, seed=7),
    "fp16-13": dict(dtype="fp16", frames=13, height=32, width=32, tile_size=8, tile_overlap=3,
                    steps=3, min_guidance=2.0, max_guidance=2.0, noise_aug=0.0, seed=42),
    "fp16-20": dict(dtype="fp16", frames=20, height=32, width=48, tile_size=12, tile_overlap=2,
                    steps=3, min_guidance=1.0, max_guidance=3.0, noise_aug=0.02, seed=7),
}  # fmt: skip


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Tiny weights in both forms the released loader reads: fp16 variant files (its fp16 run) and plain
    files (the all-fp32 run), with one checkpoint."""
    folder = tmp_path_factory.mktemp("oracle_weights")
    state = checkpoint_state(tiny_unet(seed=1), tiny_pose_net(seed=2))
    return {
        "fp16": save_tiny_base(folder / "base_fp16", fp16_variant=True),
        "fp32": save_tiny_base(folder / "base_fp32"),
        "checkpoint": save_checkpoint(folder / "MimicMotion_tiny.pth", state),
    }


def case_inputs(case: dict) -> tuple[np.ndarray, np.ndarray]:
    """A reference (H, W, 3) and pose pictures (F, H, W, 3), uint8, different for every case."""
    rng = np.random.default_rng(case["frames"] * 1000 + case["width"])
    reference = rng.integers(0, 256, (case["height"], case["width"], 3), dtype=np.uint8)
    poses = rng.integers(0, 256, (case["frames"], case["height"], case["width"], 3), dtype=np.uint8)
    return reference, poses


def ours(weights, case: dict, reference: np.ndarray, poses: np.ndarray) -> torch.Tensor:
    dtype = torch.float16 if case["dtype"] == "fp16" else torch.float32
    pipe = MimicMotionPipeline.from_pretrained(
        weights[case["dtype"]], checkpoint=weights["checkpoint"], torch_dtype=dtype
    )
    pipe.set_progress_bar_config(disable=True)
    result = pipe(
        reference,
        torch.from_numpy(poses).permute(0, 3, 1, 2),
        tile_size=case["tile_size"],
        tile_overlap=case["tile_overlap"],
        num_inference_steps=case["steps"],
        min_guidance_scale=case["min_guidance"],
        max_guidance_scale=case["max_guidance"],
        noise_aug_strength=case["noise_aug"],
        generator=torch.Generator().manual_seed(case["seed"]),
    )
    return result.frames[0]


@pytest.mark.parametrize("name", list(CASES))
def test_frames_equal_the_released_pipeline(released_code, weights, tmp_path, name):
    case = CASES[name]
    reference, poses = case_inputs(case)
    np.savez(tmp_path / "inputs.npz", reference=reference, poses=poses)
    spec = {
        **case,
        "base": str(weights[case["dtype"]]),
        "checkpoint": str(weights["checkpoint"]),
        "inputs": str(tmp_path / "inputs.npz"),
        "output": str(tmp_path / "released.npz"),
    }
    run_released("released_sampler.py", spec)
    theirs = torch.from_numpy(np.load(tmp_path / "released.npz")["frames"])
    mine = ours(weights, case, reference, poses)
    assert mine.shape == theirs.shape == (case["frames"], 3, case["height"], case["width"])
    assert torch.isfinite(mine).all()
    difference = (mine - theirs).abs().max().item()
    print(f"{name}: max |ours - released| = {difference:.3g}")
    if case["dtype"] == "fp16":
        assert difference == 0.0
    else:
        assert difference == 0.0
