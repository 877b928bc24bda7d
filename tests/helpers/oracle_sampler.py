"""The sampler cases on which our pipeline is compared with the released one, live and recorded.

Both sides load the same tiny random weights from the same files (a diffusers base folder and a `.pth`
checkpoint in the released layout) and get the same prepared reference and pose pictures (uint8). The
released side runs as its inference.py runs it (tests/oracle/released_sampler.py), in fp16 (its default:
the default torch dtype set to float16) or in fp32 (`--no_use_float16`, every component in float32).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from helpers.tiny_models import checkpoint_state, save_checkpoint, save_tiny_base, tiny_pose_net, tiny_unet
from mimicmotion import MimicMotionPipeline

DTYPES = ("fp32", "fp16")
# The released code needs at least one window of frames and a guidance above 1 somewhere. The cases are
# chosen so that another CPU's kernels change their fp32 frames by less than 1e-5 (record.py measures it):
# frames of 32 x 32 or larger (at 16 x 16 the tiny unet's deepest features are 1 x 1, where its group norms
# divide by a variance of almost 0: 0.2 apart between two CPUs) and 3 or 4 steps (with 2, the first step's
# jump from sigma 700 amplifies the last bits: 1e-4 apart).
CASES = {
    # frames == window: one window, no fusion
    "one-window": dict(frames=8, height=32, width=32, tile_size=8, tile_overlap=3,
                       steps=3, min_guidance=2.0, max_guidance=2.0, noise_aug=0.0, seed=42),
    # windows of 8 sharing 2 start at 0, 6, 12; one more is shifted back to end on frame 24
    "shifted-last-window": dict(frames=25, height=32, width=32, tile_size=8, tile_overlap=2,
                                steps=4, min_guidance=2.0, max_guidance=2.0, noise_aug=0.0, seed=42),
    "guidance-ramp": dict(frames=10, height=32, width=32, tile_size=6, tile_overlap=2,
                          steps=4, min_guidance=1.0, max_guidance=3.0, noise_aug=0.0, seed=7),
    "noise-augmentation": dict(frames=10, height=32, width=32, tile_size=6, tile_overlap=2,
                               steps=3, min_guidance=2.5, max_guidance=2.5, noise_aug=0.05, seed=3),
    "non-square": dict(frames=10, height=32, width=48, tile_size=6, tile_overlap=2,
                       steps=3, min_guidance=1.5, max_guidance=2.5, noise_aug=0.02, seed=11),
}  # fmt: skip


def save_oracle_weights(folder: Path) -> dict[str, Path]:
    """Tiny weights in both forms the released loader reads: fp16 variant files (its fp16 run) and plain
    files (the all-fp32 run), with one checkpoint."""
    folder = Path(folder)
    state = checkpoint_state(tiny_unet(seed=1), tiny_pose_net(seed=2))
    return {
        "fp16": save_tiny_base(folder / "base_fp16", fp16_variant=True),
        "fp32": save_tiny_base(folder / "base_fp32"),
        "checkpoint": save_checkpoint(folder / "MimicMotion_tiny.pth", state),
    }


def weights_fingerprint(weights: dict[str, Path]) -> str:
    """A digest of every tensor of the saved weights (names, dtypes, shapes and bytes): the goldens hold
    for these weights only, so a change in how the tests' tiny models come out must show as such."""
    digest = hashlib.sha256()

    def add(state: dict[str, torch.Tensor]) -> None:
        for name in sorted(state):
            tensor = state[name].contiguous()
            digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")

    for dtype in DTYPES:
        for file in sorted(Path(weights[dtype]).rglob("*.safetensors")):
            add(load_file(file))
    add(torch.load(weights["checkpoint"], map_location="cpu", weights_only=True))
    return digest.hexdigest()


def case_inputs(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A reference (H, W, 3) and pose pictures (F, H, W, 3), uint8, different for every case."""
    case = CASES[name]
    rng = np.random.default_rng(list(CASES).index(name))
    reference = rng.integers(0, 256, (case["height"], case["width"], 3), dtype=np.uint8)
    poses = rng.integers(0, 256, (case["frames"], case["height"], case["width"], 3), dtype=np.uint8)
    return reference, poses


def released_spec(name: str, dtype: str, weights: dict[str, Path], folder: Path) -> dict:
    """What tests/oracle/released_sampler.py needs to run the case (its inputs saved into `folder`)."""
    reference, poses = case_inputs(name)
    inputs = folder / f"{name}-{dtype}-inputs.npz"
    np.savez(inputs, reference=reference, poses=poses)
    return {
        **CASES[name],
        "dtype": dtype,
        "base": str(weights[dtype]),
        "checkpoint": str(weights["checkpoint"]),
        "inputs": str(inputs),
        "output": str(folder / f"{name}-{dtype}-released.npz"),
    }


def our_frames(name: str, dtype: str, weights: dict[str, Path]) -> torch.Tensor:
    """Our pipeline's frames (F, 3, H, W) in [0, 1] for the case, loaded from the same files."""
    case = CASES[name]
    reference, poses = case_inputs(name)
    pipe = MimicMotionPipeline.from_pretrained(
        weights[dtype],
        checkpoint=weights["checkpoint"],
        torch_dtype=torch.float16 if dtype == "fp16" else torch.float32,
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
    frames = result.frames[0]
    assert frames.shape == (case["frames"], 3, case["height"], case["width"])
    return frames
