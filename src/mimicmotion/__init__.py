"""MimicMotion: pose-guided human video generation on Stable Video Diffusion."""

from importlib import import_module
from typing import Any

from mimicmotion.errors import MimicMotionError

__version__ = "0.1.0"

# Heavy modules (torch, diffusers) are imported on first use so that `mimicmotion --help`
# and the pose tools start quickly.
_LAZY = {
    "MimicMotionPipeline": "mimicmotion.pipeline",
    "MimicMotionPipelineOutput": "mimicmotion.pipeline",
    "PoseNet": "mimicmotion.models.pose_net",
    "PoseSequence": "mimicmotion.pose",
}

__all__ = ["MimicMotionError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mimicmotion' has no attribute {name!r}")
