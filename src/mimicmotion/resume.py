"""Resumable generation: the sampler's progress, saved beside the output after every denoising step.

A long run killed in its last minutes (out of memory, a closed laptop, a cluster's time limit) keeps
its state in `.OUT.mp4.resume` beside the output: the index of the last finished step, the latents after
it, what the solver carries to the next step (DPM-Solver++(2M): its last prediction), and a key, the
SHA-256 of everything the sampler's result depends on (the prepared reference, the keypoints and how they
are drawn, the sampling settings, the weights, the dtype and the device kind). `animate --resume`
continues from it when the key matches, and gives the frames one uninterrupted run would have given: the
solvers' steps draw no random numbers, and the random numbers drawn before the first step are not needed
again. The state is written atomically (a half-written state is never read), read with
`torch.load(weights_only=True)`, and removed once the video is complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import torch

from mimicmotion.config import AnimateSettings
from mimicmotion.errors import MimicMotionError
from mimicmotion.sampling import SamplerState
from mimicmotion.video import atomic_output

log = logging.getLogger("mimicmotion")

# The settings the sampler's result depends on (besides the reference and the keypoints, hashed as data).
SAMPLING_SETTINGS = (
    "base_model", "checkpoint", "resolution", "pose_style", "tile_size", "tile_overlap", "fusion", "steps",
    "min_guidance", "max_guidance", "noise_aug", "seed", "pose_strength", "ref_strength", "pose_interval",
    "cfg_until", "scheduler", "sigmas", "init_noise",
)  # fmt: skip


def state_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(f".{out.name}.resume")


def run_key(
    s: AnimateSettings, reference: np.ndarray, keypoints: np.ndarray, dtype: torch.dtype, device: torch.device
) -> str:
    """What the sampler's result depends on, hashed."""
    digest = hashlib.sha256()
    settings = {name: str(getattr(s, name)) for name in SAMPLING_SETTINGS}
    settings.update(dtype=str(dtype), device=device.type, weights=_weights_identity(s))
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for array in (reference, keypoints):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def load_state(out: str | os.PathLike, key: str) -> SamplerState:
    """The saved state of the run writing `out`, which must be the run `key` describes."""
    path = state_path(out)
    if not path.is_file():
        raise MimicMotionError(f"--resume: no saved state for {out} (expected {path})")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        step, latents, saved_key = int(saved["step"]), saved["latents"], str(saved["key"])
        solver = dict(saved.get("solver", {}))
    except Exception:  # a foreign or damaged file; torch's own message runs to several lines
        raise MimicMotionError(
            f"--resume: cannot read the saved state {path}: it is damaged or was not written by mimicmotion; "
            "run without --resume to start again"
        ) from None
    if saved_key != key:
        raise MimicMotionError(
            f"--resume: the state saved in {path} belongs to other inputs or settings (reference, poses, "
            "weights, sampling options, dtype or device differ); run without --resume to start again"
        )
    return SamplerState(step, latents, solver)


class StateWriter:
    """Saves the state after every step; `remove()` once the video is written."""

    def __init__(self, out: str | os.PathLike, key: str) -> None:
        self.path = state_path(out)
        self.key = key

    def __call__(self, state: SamplerState) -> None:
        saved = {
            "step": state.step,
            "latents": state.latents.detach().cpu(),
            "solver": state.solver,
            "key": self.key,
        }
        with atomic_output(self.path) as temp:
            torch.save(saved, temp)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _weights_identity(s: AnimateSettings) -> str:
    """The weights as named, and for local files their size and time of change."""
    parts = []
    for name in (s.base_model, s.checkpoint):
        path = Path(name)
        if path.is_file():
            stat = path.stat()
            parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
        else:
            parts.append(str(name))
    return "|".join(parts)
