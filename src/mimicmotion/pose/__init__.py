"""Pose tools: keypoints of driving videos, retargeting to the reference, the pose picture.

Data flow: video -> `extract_poses` (backend: MediaPipe or DWPose) -> `PoseSequence` -> `smooth`
(optional) -> `retarget` onto the reference image's pose -> `render_pose` / `render_pose_frames`
(-> `PoseFrames` for the diffusion pipeline). `build_pose_frames` does all of it for one reference image
and driving video. Heavy libraries (MediaPipe, onnxruntime, torch) are imported only when used.
"""

from mimicmotion.pose.backends import BACKENDS, GivenPoseBackend, PoseBackend, choose_backend, get_backend
from mimicmotion.pose.build import build_pose_frames, reference_first, reference_pose, retargeted_poses
from mimicmotion.pose.extract import detect_poses, extract_poses
from mimicmotion.pose.fill import FillReport, fill_gaps
from mimicmotion.pose.frames import PoseFrames, render_pose_frames, write_pose_video
from mimicmotion.pose.reference import prepare_reference, target_size
from mimicmotion.pose.render import STYLES, PoseRenderer, render_pose
from mimicmotion.pose.retargeting import MODES as RETARGET_MODES
from mimicmotion.pose.retargeting import LinearFit, fit_linear, retarget
from mimicmotion.pose.smoothing import smooth
from mimicmotion.pose.types import PoseSequence

__all__ = [
    "BACKENDS",
    "RETARGET_MODES",
    "STYLES",
    "FillReport",
    "GivenPoseBackend",
    "LinearFit",
    "PoseBackend",
    "PoseFrames",
    "PoseRenderer",
    "PoseSequence",
    "build_pose_frames",
    "choose_backend",
    "detect_poses",
    "extract_poses",
    "fill_gaps",
    "fit_linear",
    "get_backend",
    "prepare_reference",
    "reference_first",
    "reference_pose",
    "render_pose",
    "render_pose_frames",
    "retarget",
    "retargeted_poses",
    "smooth",
    "target_size",
    "write_pose_video",
]
