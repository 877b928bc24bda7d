"""Small prepared datasets and tiny training settings for the training tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

GIF = "dance_576x1024_19f.gif"

# A standing person in normalised coordinates of a portrait frame (OpenPose-18 order: nose, neck, right
# shoulder, elbow, wrist, left shoulder, elbow, wrist, right hip, knee, ankle, left hip, knee, ankle, right
# eye, left eye, right ear, left ear).
STANDING = np.array(
    [
        [0.50, 0.15], [0.50, 0.25], [0.40, 0.25], [0.36, 0.38], [0.34, 0.50], [0.60, 0.25],
        [0.64, 0.38], [0.66, 0.50], [0.44, 0.52], [0.44, 0.70], [0.44, 0.88], [0.56, 0.52],
        [0.56, 0.70], [0.56, 0.88], [0.48, 0.13], [0.52, 0.13], [0.46, 0.14], [0.54, 0.14],
    ]
)  # fmt: skip


def write_test_video(path: Path, frames: int, width: int, height: int, fps: int = 10) -> Path:
    """A small H.264 mp4 written with PyAV: a bright square moving over a gradient, `frames` frames."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            image = np.zeros((height, width, 3), np.uint8)
            image[..., 0] = np.linspace(0, 200, width, dtype=np.uint8)[None]
            image[..., 2] = np.linspace(0, 200, height, dtype=np.uint8)[:, None]
            top, left = (t * 3) % (height - 8), (t * 2) % (width - 8)
            image[top : top + 8, left : left + 8] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def given_poses(frames: int, width: int, height: int, empty=(), seed: int = 0, fps: float = 30.0):
    """A `PoseSequence` of the standing person moving a little, one entry per frame (frame_indices
    0..frames-1); frames in `empty` hold nobody; frame 0 has a second person (`others`). Confidences
    vary, within (0.5, 1)."""
    from mimicmotion.pose import PoseSequence
    from mimicmotion.pose.types import ALL_POINTS, absent_points

    rng = np.random.default_rng(seed)
    points = absent_points(frames, ALL_POINTS)
    for t in range(frames):
        if t in empty:
            continue
        body = STANDING + np.array([0.01 * t, 0.0]) + rng.normal(0, 0.005, STANDING.shape)
        hands = [body[7] + rng.normal(0, 0.02, (21, 2)), body[4] + rng.normal(0, 0.02, (21, 2))]
        face = body[0] + rng.normal(0, 0.01, (68, 2))
        points[t, :, :2] = np.concatenate([body, *hands, face])
        points[t, :, 2] = rng.uniform(0.5, 1.0, ALL_POINTS)
    others = absent_points(frames, 1, ALL_POINTS)
    others[0, 0] = points[0] if 0 not in empty else others[0, 0]
    others[0, 0, :, 0] -= 0.2
    others[0, 0, :, 2] *= 0.9
    return PoseSequence.from_points(points, width, height, fps, np.arange(frames), others)


def forbid_detectors(monkeypatch) -> None:
    """Make every way to a keypoint detector fail the test (a detector must not be needed)."""
    import mimicmotion.pose
    import mimicmotion.pose.backends
    import mimicmotion.pose.build
    import mimicmotion.pose.extract
    from mimicmotion.pose.dwpose import DWPoseBackend
    from mimicmotion.pose.mediapipe_backend import MediaPipeBackend

    def refuse(*args, **kwargs):
        raise AssertionError("a pose detector was asked for")

    for module in (mimicmotion.pose, mimicmotion.pose.backends, mimicmotion.pose.build):
        monkeypatch.setattr(module, "choose_backend", refuse)
        monkeypatch.setattr(module, "get_backend", refuse)
    monkeypatch.setattr(mimicmotion.pose.extract, "get_backend", refuse)
    monkeypatch.setattr(mimicmotion.pose, "detect_poses", refuse)
    monkeypatch.setattr(DWPoseBackend, "__init__", refuse)
    monkeypatch.setattr(MediaPipeBackend, "__init__", refuse)


def prepare_gif(shared_data: Path, folder: Path) -> Path:
    """Prepared data (in `folder`/data) made from the 19-frame GIF of the shared test media."""
    from mimicmotion.train.prepare import prepare_data

    videos = folder / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    (videos / GIF).symlink_to(shared_data / GIF)
    report = prepare_data(videos, folder / "data", workers=1, progress=False)
    assert len(report.prepared) == 1, report.summary()
    return folder / "data"


def tiny_settings(data: Path, run_dir: Path, base: Path, **overrides) -> dict:
    """Settings for the tiny models: 64 x 32 frames, 4-frame clips, CPU precision, no loader workers."""
    values = {
        "data": str(data),
        "run_dir": str(run_dir),
        "base_model": str(base),
        "height": 64,
        "width": 32,
        "num_frames": 4,
        "max_frame_interval": 3,
        "num_workers": 0,
        "mixed_precision": "no",
        "learning_rate": 1e-3,
        "warmup_steps": 2,
        "checkpoint_every": 100,
        "validate_every": 0,
        "validation_steps": 2,
        "max_steps": 4,
    }
    values.update(overrides)
    return values


def write_settings(path: Path, values: dict) -> Path:
    path.write_text(yaml.safe_dump(values))
    return path
