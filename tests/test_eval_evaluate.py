"""`mimicmotion evaluate` end to end on synthetic videos (no feature networks)."""

import importlib.util
import itertools
import json
import math

import numpy as np
import pytest
from helpers.eval_media import random_frames, uniform_frames, write_frames, write_mp4

from mimicmotion.cli import main
from mimicmotion.video import iter_frames
from mimicmotion.windows import save_window_layout

FRAME_METRICS = ["--metrics", "psnr,ssim,temporal", "--no-progress"]


def evaluate(*args):
    return main(["evaluate", *FRAME_METRICS, *map(str, args)])


def analytic_psnr(offset):
    return 10 * math.log10(255**2 / offset**2)


def test_uniform_offsets_give_analytic_psnr_and_identical_motion(tmp_path, capsys):
    gt_a, gt_b = random_frames(6, 24, 32, seed=1, high=200), random_frames(4, 24, 32, seed=2, high=200)
    write_frames(tmp_path / "gt" / "a", gt_a)
    write_frames(tmp_path / "gt" / "b", gt_b)
    write_frames(tmp_path / "pred" / "a", [f + np.uint8(5) for f in gt_a])
    write_frames(tmp_path / "pred" / "b", [f + np.uint8(20) for f in gt_b])

    assert evaluate("--pred", tmp_path / "pred", "--gt", tmp_path / "gt") == 0

    document = json.loads((tmp_path / "pred" / "evaluation.json").read_text())
    method = document["methods"][0]
    a, b = method["pairs"]
    assert (a["name"], a["frames"], b["name"], b["frames"]) == ("a", 6, "b", 4)
    assert a["psnr"] == pytest.approx(analytic_psnr(5))
    assert b["psnr"] == pytest.approx(analytic_psnr(20))
    # frame-weighted over the 10 compared frames
    assert method["summary"]["psnr"] == pytest.approx((6 * analytic_psnr(5) + 4 * analytic_psnr(20)) / 10)
    assert 0 < b["ssim"] < a["ssim"] < 1
    # a uniform offset leaves consecutive-frame differences unchanged
    direct = np.mean([np.abs(y.astype(float) - x).mean() for x, y in itertools.pairwise(gt_a)])
    assert a["mean_frame_difference"] == pytest.approx(direct)
    assert a["gt_mean_frame_difference"] == pytest.approx(direct)
    out = capsys.readouterr().out
    assert "Method" in out and "PSNR" in out and "pred" in out


def test_center_crop_and_resize_compare_the_same_pixels(tmp_path):
    gt = random_frames(3, 40, 60, seed=3)
    # the prediction is the ground truth at twice the size: area-downscaling gives it back exactly
    pred = [np.repeat(np.repeat(f, 2, axis=0), 2, axis=1) for f in gt]
    write_frames(tmp_path / "gt", gt)
    write_frames(tmp_path / "pred", pred)
    out = tmp_path / "result.json"

    assert evaluate("--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--center-crop", "--json", out) == 0

    pair = json.loads(out.read_text())["methods"][0]["pairs"][0]
    assert pair["psnr"] is None  # identical frames: +inf, written as null
    assert pair["ssim"] == pytest.approx(1.0)


def test_center_crop_takes_the_central_square(tmp_path):
    gt = random_frames(2, 20, 40, seed=4)
    # differs from the ground truth only outside the central 20x20 square
    pred = [f.copy() for f in gt]
    for frame in pred:
        frame[:, :10] = 255 - frame[:, :10]
        frame[:, 30:] = 0
    write_frames(tmp_path / "gt", gt)
    write_frames(tmp_path / "pred", pred)
    out = tmp_path / "r.json"

    assert evaluate("--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--center-crop", "--json", out) == 0
    assert json.loads(out.read_text())["methods"][0]["pairs"][0]["psnr"] is None
    assert evaluate("--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--json", out) == 0
    assert json.loads(out.read_text())["methods"][0]["pairs"][0]["psnr"] < 15


def test_frame_counts_that_differ_compare_the_common_prefix(tmp_path, capsys):
    gt = random_frames(8, 16, 16, seed=5)
    write_frames(tmp_path / "gt", gt)
    write_frames(tmp_path / "pred", gt[:5])
    out = tmp_path / "r.json"

    assert evaluate("--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--json", out) == 0
    assert json.loads(out.read_text())["methods"][0]["pairs"][0]["frames"] == 5
    assert "comparing the first 5" in capsys.readouterr().err


def test_gt_step_matches_a_strided_generation(tmp_path):
    gt = random_frames(10, 16, 16, seed=6)
    write_frames(tmp_path / "gt", gt)
    write_frames(tmp_path / "pred", gt[::2])
    out = tmp_path / "r.json"

    assert evaluate("--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--gt-step", 2, "--json", out) == 0
    pair = json.loads(out.read_text())["methods"][0]["pairs"][0]
    assert pair["frames"] == 5 and pair["ssim"] == pytest.approx(1.0)


def test_videos_pair_by_name_across_formats(tmp_path, capsys):
    frames = uniform_frames([40, 90, 140, 190], height=32, width=32)
    write_mp4(tmp_path / "pred" / "dance.mp4", frames)
    write_frames(tmp_path / "gt" / "dance", frames)
    write_frames(tmp_path / "pred" / "walk", frames[:2])
    write_frames(tmp_path / "gt" / "walk", frames[:2])
    write_frames(tmp_path / "gt" / "extra", frames[:2])
    out = tmp_path / "r.json"

    assert evaluate("--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--json", out) == 0
    pairs = json.loads(out.read_text())["methods"][0]["pairs"]
    assert [p["name"] for p in pairs] == ["dance", "walk"]
    assert pairs[0]["psnr"] > 35  # H.264 of flat frames is nearly lossless
    assert "extra" in capsys.readouterr().err


def test_several_methods_give_one_row_each(tmp_path, capsys):
    gt = random_frames(3, 16, 16, seed=7, high=200)
    write_frames(tmp_path / "gt", gt)
    write_frames(tmp_path / "near", [f + np.uint8(2) for f in gt])
    write_frames(tmp_path / "far", [f + np.uint8(30) for f in gt])
    out = tmp_path / "table.json"

    assert evaluate("--pred", f"ours={tmp_path / 'near'}", "--pred", f"baseline={tmp_path / 'far'}",
                    "--gt", tmp_path / "gt", "--json", out) == 0  # fmt: skip
    methods = json.loads(out.read_text())["methods"]
    assert [m["label"] for m in methods] == ["ours", "baseline"]
    assert methods[0]["summary"]["psnr"] == pytest.approx(analytic_psnr(2))
    assert methods[1]["summary"]["psnr"] == pytest.approx(analytic_psnr(30))
    table = capsys.readouterr().out.split("Method")[1]
    assert table.index("ours") < table.index("baseline")


def test_boundary_flicker_uses_the_layout_beside_the_prediction(tmp_path):
    # windows [0..4] and [0, 4..7] of 8 generated frames: video transitions 2->3 and 3->4 are seams
    steps = [10, 10, 40, 40, 10, 10]
    frames = uniform_frames(np.concatenate([[30], 30 + np.cumsum(steps)]))
    video = write_mp4(tmp_path / "gen" / "clip.mp4", frames)
    save_window_layout(tmp_path / "gen" / "clip.windows.json", [[0, 1, 2, 3, 4], [0, 4, 5, 6, 7]], 8)
    write_frames(tmp_path / "gt" / "clip", frames)
    out = tmp_path / "r.json"

    assert evaluate("--pred", tmp_path / "gen", "--gt", tmp_path / "gt", "--json", out) == 0
    method = json.loads(out.read_text())["methods"][0]
    pair = method["pairs"][0]
    # expected from the decoded frames (H.264 moves flat levels by a unit or two)
    decoded = [frame.astype(float) for _, frame in iter_frames(video)]
    d = [np.abs(b - a).mean() for a, b in itertools.pairwise(decoded)]
    expected = np.mean([d[2], d[3]]) / np.mean([d[0], d[1], d[4], d[5]])
    assert pair["boundary_transitions"] == 2
    assert pair["boundary_flicker"] == pytest.approx(expected)
    assert expected == pytest.approx(4.0, rel=0.1)
    assert pair["window_layout"].endswith("clip.windows.json")
    assert method["summary"]["boundary_flicker"] == pytest.approx(pair["boundary_flicker"])


def test_default_json_sits_beside_a_single_prediction_video(tmp_path):
    frames = uniform_frames([10, 20, 30], height=16, width=16)
    write_mp4(tmp_path / "one.mp4", frames)
    write_frames(tmp_path / "gt", frames)
    assert evaluate("--pred", tmp_path / "one.mp4", "--gt", tmp_path / "gt") == 0
    assert json.loads((tmp_path / "one.eval.json").read_text())["methods"][0]["pairs"][0]["frames"] == 3


@pytest.fixture
def two_folders(tmp_path):
    frames = uniform_frames([10, 20, 30], height=16, width=16)
    write_frames(tmp_path / "pred" / "a", frames)
    write_frames(tmp_path / "gt" / "a", frames)
    return tmp_path / "pred", tmp_path / "gt"


def run_failing(capsys, *args):
    code = main(["evaluate", "--no-progress", *map(str, args)])
    return code, capsys.readouterr().err


def test_missing_paths_are_reported(tmp_path, capsys, two_folders):
    _, gt = two_folders
    code, err = run_failing(capsys, "--pred", tmp_path / "nowhere", "--gt", gt, "--metrics", "psnr")
    assert code == 2 and "prediction not found" in err and "nowhere" in err


def test_folders_without_common_names_are_reported(tmp_path, capsys, two_folders):
    pred, _ = two_folders
    write_frames(tmp_path / "other" / "b", uniform_frames([1, 2]))
    code, err = run_failing(capsys, "--pred", pred, "--gt", tmp_path / "other", "--metrics", "psnr")
    assert code == 2 and "no video names" in err


def test_unreadable_videos_are_reported(tmp_path, capsys):
    for side in ("pred", "gt"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "x.mp4").write_bytes(b"this is not a video")
    code, err = run_failing(capsys, "--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--metrics", "psnr")
    assert code == 2 and "x.mp4" in err


def test_missing_weights_for_a_requested_metric_are_reported(tmp_path, capsys, monkeypatch, two_folders):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pred, gt = two_folders
    code, err = run_failing(capsys, "--pred", pred, "--gt", gt, "--metrics", "psnr,fid-vid")
    assert code == 2
    assert "pt_inception-2015-12-05-6726825d.pth" in err and "--inception-weights" in err
    assert len(err.strip().splitlines()) == 1
    missing = tmp_path / "none.pt"
    code, err = run_failing(capsys, "--pred", pred, "--gt", gt, "--metrics", "fvd", "--i3d-weights", missing)
    assert code == 2 and "rgb_imagenet.pt" in err and "none.pt" in err


def test_unknown_metrics_are_reported(capsys, two_folders):
    pred, gt = two_folders
    code, err = run_failing(capsys, "--pred", pred, "--gt", gt, "--metrics", "psnr,fvd2")
    assert code == 2 and "fvd2" in err


def test_a_layout_for_a_shorter_video_is_reported(tmp_path, capsys, two_folders):
    pred, gt = two_folders
    save_window_layout(pred / "a.windows.json", [[0, 1]], num_frames=2)  # one video frame, video has 3
    code, err = run_failing(capsys, "--pred", pred, "--gt", gt, "--metrics", "temporal")
    assert code == 2 and "belongs to another video" in err


def test_lpips_without_its_package_is_reported(capsys, two_folders):
    if importlib.util.find_spec("lpips") is not None:
        pytest.skip("the lpips package is installed here")
    pred, gt = two_folders
    code, err = run_failing(capsys, "--pred", pred, "--gt", gt, "--metrics", "psnr,lpips")
    assert code == 2 and "`lpips` package" in err
