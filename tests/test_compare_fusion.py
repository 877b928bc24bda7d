"""`mimicmotion compare-fusion`: three fusions, same seed, temporal figures side by side."""

import itertools
import json

import av
import numpy as np
import pytest

from mimicmotion.cli import main

pytestmark = pytest.mark.slow  # three generations


@pytest.fixture(autouse=True)
def private_pose_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMICMOTION_CACHE", str(tmp_path / "cache"))


def frames_of(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.float64) for f in container.decode(video=0)]


@pytest.mark.usefixtures("mediapipe")
def test_compare_fusion_reports_each_strategy(shared_data, tiny_weights, tmp_path, capsys, monkeypatch):
    import mimicmotion.animate

    loads = []
    load_pipeline = mimicmotion.animate.load_pipeline
    monkeypatch.setattr(mimicmotion.animate, "load_pipeline", lambda s: loads.append(1) or load_pipeline(s))
    base, checkpoint = tiny_weights
    out = tmp_path / "fusions"
    code = main(["compare-fusion", "--ref", str(shared_data / "ref_demo1.jpg"),
                 "--driving", str(shared_data / "dance_576x1024_19f.gif"), "--out", str(out),
                 "--base-model", str(base), "--checkpoint", str(checkpoint), "--resolution", "128",
                 "--steps", "2", "--tile-size", "6", "--tile-overlap", "3", "--quiet"])  # fmt: skip
    assert code == 0
    assert len(loads) == 1  # the weights are loaded once for the three generations
    printed = capsys.readouterr().out
    report = json.loads((out / "compare-fusion.json").read_text())
    assert set(report["fusions"]) == {"official", "progressive", "average"}

    # reference + 10 GIF frames (19 at stride 2); windows of 6 starting every 3 frames, plus the last
    windows = [[0, 1, 2, 3, 4, 5], [0, 4, 5, 6, 7, 8], [0, 6, 7, 8, 9, 10]]
    videos = {}
    for fusion, figures in report["fusions"].items():
        assert fusion in printed
        frames = frames_of(out / f"{fusion}.mp4")
        videos[fusion] = frames
        assert len(frames) == 10
        diffs = np.array([np.abs(b - a).mean() for a, b in itertools.pairwise(frames)])
        assert figures["mean_difference"] == pytest.approx(diffs.mean(), rel=1e-6)
        # video frame v is generated frame v + 1; a boundary is where the covering windows change
        cover = [frozenset(i for i, w in enumerate(windows) if v + 1 in w) for v in range(10)]
        boundary = np.array([a != b for a, b in itertools.pairwise(cover)])
        assert boundary.any() and not boundary.all()
        expected = diffs[boundary].mean() / diffs[~boundary].mean()
        assert figures["boundary_flicker"] == pytest.approx(expected, rel=1e-6)
    # the fusion changes the result (same seed, same everything else)
    for other in ("progressive", "average"):
        assert any(not np.array_equal(a, b) for a, b in zip(videos["official"], videos[other], strict=True))
