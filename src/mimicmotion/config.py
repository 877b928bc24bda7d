"""Settings of a generation, with the released defaults, and the released YAML config format.

The released config looks like:

    base_model_path: stabilityai/stable-video-diffusion-img2vid-xt-1-1
    ckpt_path: models/MimicMotion_1-1.pth
    test_case:
      - ref_video_path: dance.mp4
        ref_image_path: person.jpg
        num_frames: 72
        resolution: 576
        frames_overlap: 6
        num_inference_steps: 25
        noise_aug_strength: 0
        guidance_scale: 2.0
        sample_stride: 2
        fps: 15
        seed: 42

Each test case becomes one `AnimateSettings`; options given on the command line override it.
Relative paths in the file are taken relative to the current directory, as the released code did.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimicmotion.errors import MimicMotionError

DEFAULT_BASE = "stabilityai/stable-video-diffusion-img2vid-xt-1-1"
DEFAULT_CHECKPOINT = "tencent/MimicMotion/MimicMotion_1-1.pth"


@dataclass
class AnimateSettings:
    """Everything `animate` needs; the defaults are those of the released config."""

    ref: Path | None = None
    driving: Path | None = None
    out: Path | None = None
    base_model: str = DEFAULT_BASE
    checkpoint: str = DEFAULT_CHECKPOINT
    resolution: int = 576
    stride: int = 2
    max_frames: int | None = None
    steps: int = 25
    tile_size: int = 72
    tile_overlap: int = 6
    fusion: str = "official"
    min_guidance: float = 2.0
    max_guidance: float = 2.0
    noise_aug: float = 0.0
    seed: int = 42
    fps: float = 15.0
    dtype: str = "auto"
    device: str = "auto"
    offload: bool = False
    pose_backend: str = "auto"
    dwpose_dir: Path | None = None
    retarget: str = "linear"
    smooth: bool = False
    pose_style: str = "released"
    side_by_side: bool = False
    quiet: bool = False

    def replace(self, **changes: Any) -> AnimateSettings:
        return dataclasses.replace(self, **changes)


# released key -> (our field, converter)
_CASE_KEYS = {
    "ref_video_path": ("driving", Path),
    "ref_image_path": ("ref", Path),
    "num_frames": ("tile_size", int),
    "resolution": ("resolution", int),
    "frames_overlap": ("tile_overlap", int),
    "num_inference_steps": ("steps", int),
    "noise_aug_strength": ("noise_aug", float),
    "sample_stride": ("stride", int),
    "fps": ("fps", float),
    "seed": ("seed", int),
}


def read_released_config(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The test cases of a released-format YAML file, as dicts of `AnimateSettings` fields."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise MimicMotionError(f"config file not found: {path}")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise MimicMotionError(f"cannot read config {path}: {error}") from None
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("test_case"), list)
        or not document["test_case"]
    ):
        raise MimicMotionError(f"{path} has no test_case list (the released config format)")
    common: dict[str, Any] = {}
    if document.get("base_model_path"):
        common["base_model"] = str(document["base_model_path"])
    if document.get("ckpt_path"):
        common["checkpoint"] = str(document["ckpt_path"])
    return [_case(path, number, case, common) for number, case in enumerate(document["test_case"], start=1)]


def _case(path: Path, number: int, case: Any, common: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(case, dict):
        raise MimicMotionError(f"{path}: test case {number} is not a mapping")
    values = dict(common)
    for key, value in case.items():
        if key == "guidance_scale":
            values["min_guidance"] = values["max_guidance"] = _convert(path, number, key, value, float)
        elif key in _CASE_KEYS:
            name, convert = _CASE_KEYS[key]
            values[name] = _convert(path, number, key, value, convert)
        else:
            known = ", ".join(sorted([*_CASE_KEYS, "guidance_scale"]))
            raise MimicMotionError(f"{path}: test case {number} has an unknown key {key!r} (known: {known})")
    return values


def _convert(path: Path, number: int, key: str, value: Any, convert) -> Any:
    try:
        return convert(value)
    except (TypeError, ValueError):
        raise MimicMotionError(f"{path}: test case {number}: {key} has an invalid value {value!r}") from None
