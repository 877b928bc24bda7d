"""Small prepared datasets and tiny training settings for the training tests."""

from __future__ import annotations

from pathlib import Path

import yaml

GIF = "dance_576x1024_19f.gif"


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
