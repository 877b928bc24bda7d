"""The sampling controls through `mimicmotion animate`: the command line, the config file and the Python
settings give the same run, and own poses (`--poses`) round-trip with `mimicmotion pose --out`."""

from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from mimicmotion.cli import build_parser, main
from mimicmotion.commands.animate import settings_from
from mimicmotion.config import AnimateSettings

FAST = ["--resolution", "128", "--steps", "2", "--tile-size", "6", "--tile-overlap", "2", "--quiet"]
CONTROLS = {
    "pose_strength": 0.7,
    "ref_strength": 1.3,
    "pose_interval": (0.0, 0.6),
    "cfg_until": 0.5,
    "scheduler": "dpm++2m",
    "sigmas": ("700", "10", "1"),  # three steps
    "init_noise": "independent",
    "decode_overlap": 3,
}
CONTROL_ARGS = ["--pose-strength", "0.7", "--ref-strength", "1.3", "--pose-interval", "0,0.6", "--cfg-until",
                "0.5", "--scheduler", "dpm++2m", "--sigmas", "700,10,1", "--init-noise", "independent",
                "--decode-overlap", "3"]  # fmt: skip


@pytest.fixture(autouse=True)
def private_pose_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMICMOTION_CACHE", str(tmp_path / "cache"))


def settings_of(argv):
    return settings_from(build_parser(["animate"]).parse_args(["animate", *argv]))


def test_the_command_line_and_the_config_file_give_the_same_controls(tmp_path):
    from_cli = settings_of(["--ref", "a.jpg", "--driving", "b.mp4", "--out", "c.mp4", *CONTROL_ARGS])
    paths = {"ref": Path("a.jpg"), "driving": Path("b.mp4"), "out": Path("c.mp4")}
    assert from_cli == [AnimateSettings(**paths, **CONTROLS)]
    config = tmp_path / "run.yaml"
    case = {"ref_image_path": "a.jpg", "ref_video_path": "b.mp4", "ref_strength": 1.3, "cfg_until": 0.5,
            "sigmas": "700,10,1", "init_noise": "independent", "decode_overlap": 3}  # fmt: skip
    # file-wide values, and the case's own, which win over them
    common = {"pose_strength": 0.7, "pose_interval": [0, 0.6], "scheduler": "dpm++2m", "cfg_until": 0.9}
    config.write_text(yaml.safe_dump({**common, "test_case": [case]}))
    (from_file,) = settings_of(["--config", str(config), "--out", "c.mp4"])
    assert from_file == from_cli[0]


def frames_of(path):
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").astype(np.int16) for frame in container.decode(video=0)]


@pytest.mark.usefixtures("mediapipe")
def test_own_poses_round_trip_with_pose_out_and_take_the_same_controls(shared_data, tiny_weights, tmp_path):
    base, checkpoint = tiny_weights
    weights = ["--base-model", str(base), "--checkpoint", str(checkpoint)]
    ref, gif = str(shared_data / "ref_demo1.jpg"), str(shared_data / "dance_576x1024_19f.gif")
    poses = tmp_path / "poses.npz"
    assert main(["pose", "--driving", gif, "--out", str(poses), "--max-frames", "7", "--quiet"]) == 0

    plain_args = ["--ref", ref, "--max-frames", "7", *weights, *FAST]
    common = [*plain_args, *CONTROL_ARGS]
    detected, given = tmp_path / "detected.mp4", tmp_path / "given.mp4"
    assert main(["animate", "--driving", gif, "--out", str(detected), *common]) == 0
    assert main(["animate", "--poses", str(poses), "--out", str(given), *common]) == 0
    a, b = frames_of(detected), frames_of(given)
    assert len(a) == len(b) == 7
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))

    # the controls reach the sampler: without them the same poses give another video
    plain = tmp_path / "plain.mp4"
    assert main(["animate", "--poses", str(poses), "--out", str(plain), *plain_args]) == 0
    assert np.mean([np.abs(x - y).mean() for x, y in zip(b, frames_of(plain), strict=True)]) > 1.0
