"""`mimicmotion compare`: settings varied over one input, one model load, the videos side by side."""

import json

import av
import numpy as np
import pytest

from mimicmotion.cli import main
from mimicmotion.compare import parse_vary
from mimicmotion.errors import MimicMotionError


def test_vary_gives_every_combination_converted_like_the_command_line():
    variants = parse_vary(["pose-strength=0.5,1", "scheduler=euler,dpm++2m"])
    assert [v.name for v in variants] == [
        "pose-strength=0.5 scheduler=euler",
        "pose-strength=0.5 scheduler=dpm++2m",
        "pose-strength=1 scheduler=euler",
        "pose-strength=1 scheduler=dpm++2m",
    ]
    assert variants[1].changes == {"pose_strength": 0.5, "scheduler": "dpm++2m"}
    # values that are lists are separated by semicolons
    intervals = parse_vary(["pose_interval=0,0.5;0.2,1"])
    assert [v.changes for v in intervals] == [{"pose_interval": (0.0, 0.5)}, {"pose_interval": (0.2, 1.0)}]


@pytest.mark.parametrize(
    "specs, problem",
    [(["pose-strenght=1,2"], "did you mean 'pose_strength'"), (["out=a.mp4,b.mp4"], "unknown setting 'out'"),
     (["steps=1,many"], "--vary steps must be an integer"), (["scheduler=heun,euler"], "must be one of"),
     (["steps"], "NAME=VALUE1,VALUE2"), (["steps=2"], "at least two values"),
     (["steps=1,2", "steps=3,4"], "varied twice")],
)  # fmt: skip
def test_bad_vary_is_one_line_saying_what_is_wrong(specs, problem):
    with pytest.raises(MimicMotionError, match=problem):
        parse_vary(specs)


def frames_of(path):
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").astype(np.int16) for frame in container.decode(video=0)]


@pytest.mark.usefixtures("mediapipe")
def test_compare_writes_each_variant_a_grid_and_a_report(
    shared_data, tiny_weights, tmp_path, monkeypatch, capsys
):
    import mimicmotion.animate

    monkeypatch.setenv("MIMICMOTION_CACHE", str(tmp_path / "cache"))
    loads = []
    load_pipeline = mimicmotion.animate.load_pipeline
    monkeypatch.setattr(mimicmotion.animate, "load_pipeline", lambda s: loads.append(1) or load_pipeline(s))
    base, checkpoint = tiny_weights
    out = tmp_path / "compare"
    code = main(["compare", "--vary", "pose-strength=0,1", "--ref", str(shared_data / "ref_demo1.jpg"),
                 "--driving", str(shared_data / "dance_576x1024_19f.gif"), "--out", str(out),
                 "--base-model", str(base), "--checkpoint", str(checkpoint), "--resolution", "128",
                 "--steps", "2", "--tile-size", "6", "--tile-overlap", "2", "--max-frames", "5",
                 "--quiet"])  # fmt: skip
    assert code == 0
    assert len(loads) == 1
    report = json.loads((out / "compare.json").read_text())
    names = [variant["name"] for variant in report["variants"]]
    assert names == ["pose-strength=0", "pose-strength=1"]
    printed = capsys.readouterr().out
    assert all(name in printed for name in names)
    videos = [frames_of(out / variant["video"]) for variant in report["variants"]]
    assert [len(v) for v in videos] == [5, 5]
    assert np.mean([np.abs(a - b).mean() for a, b in zip(*videos, strict=True)]) > 1.0  # the pose matters

    grid = frames_of(out / report["grid"])
    assert len(grid) == 5
    height, width = videos[0][0].shape[:2]
    assert grid[0].shape[1] == 2 * width  # two tiles in a row, each under its label bar
    bar = grid[0].shape[0] - height
    assert 0 < bar < height
    for index in (0, 4):  # each tile shows its video (within the re-encoding's error)
        assert np.abs(grid[index][bar:, :width] - videos[0][index]).mean() < 3
        assert np.abs(grid[index][bar:, width:] - videos[1][index]).mean() < 3
    assert (grid[0][: bar - 4] > 200).mean() > 0.8  # a white label bar with dark text
