"""The synthetic-dancer world of benchmarks/toy: its geometry, its observations, its scores, and the
whole recipe at CI size (`run.py --smoke`, the same code path as the full proof)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "toy"))
from toyworld import dancer, measure, motions  # noqa: E402
from toyworld.world import TestCase as HeldOutCase  # noqa: E402
from toyworld.world import WorldSize, to_sequence  # noqa: E402

from mimicmotion.pose.skeleton import BODY_LIMBS  # noqa: E402
from mimicmotion.pose.types import LEFT_HAND, RIGHT_HAND  # noqa: E402

H, W = 160, 128


def limb_lengths(body: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.norm(body[:, b] - body[:, a], axis=-1) for a, b in BODY_LIMBS], axis=1)


def test_angle_perturbations_turn_limbs_but_keep_every_bone_length():
    rng = np.random.default_rng(0)
    body = motions.procedural_body(rng, 30, H, W)
    turned = motions.perturb_angles(body, rng, amplitude=0.5)
    np.testing.assert_allclose(limb_lengths(turned), limb_lengths(body), rtol=1e-9)
    np.testing.assert_allclose(turned[:, 1], body[:, 1])  # the neck is the root: it stays
    assert np.abs(turned - body).max() > 5  # the wrists and ankles did move (pixels)


def test_mirroring_swaps_sides_and_twice_is_the_original():
    body = motions.procedural_body(np.random.default_rng(1), 10, H, W)
    once = motions.mirror(body, W)
    # the left wrist of the mirror image is where the right wrist was, reflected
    np.testing.assert_allclose(once[:, 7, 0], W - body[:, 4, 0])
    np.testing.assert_allclose(motions.mirror(once, W), body)


def test_a_fist_keeps_the_finger_tips_closer_to_the_wrist_than_an_open_hand():
    elbow = np.array([[50.0, 50.0]])
    wrist = np.array([[50.0, 80.0]])
    zero = np.zeros(1)
    open_hand = motions.hand_points(elbow, wrist, "left", np.zeros((1, 5)), zero, zero)
    fist = motions.hand_points(elbow, wrist, "left", np.ones((1, 5)), zero, zero)
    tips = [4, 8, 12, 16, 20]
    reach_open = np.linalg.norm(open_hand[0, tips] - wrist, axis=-1)
    reach_fist = np.linalg.norm(fist[0, tips] - wrist, axis=-1)
    assert (reach_fist < reach_open).all()
    # an open hand points on along the forearm (downwards here), fingers beyond the knuckles
    assert (open_hand[0, [8, 12, 16], 1] > open_hand[0, [5, 9, 13], 1]).all()


def test_observation_noise_follows_one_minus_confidence():
    rng = np.random.default_rng(2)
    points = motions.with_hands(motions.procedural_body(rng, 200, H, W), rng)
    clean = motions.observed(points, np.random.default_rng(3), noise=0.0)
    np.testing.assert_array_equal(clean[..., :2], points[..., :2])
    noisy = motions.observed(points, np.random.default_rng(3), noise=0.25)
    np.testing.assert_array_equal(noisy[..., 2], clean[..., 2])  # the same confidences
    drawn = points[..., 2] > 0
    shift = np.linalg.norm(noisy[..., :2] - points[..., :2], axis=-1)[drawn]
    confidence = noisy[..., 2][drawn]
    low, high = shift[confidence < 0.45], shift[confidence > 0.85]
    assert len(low) > 50 and len(high) > 50
    assert np.median(low) > 4 * np.median(high)
    assert (noisy[~drawn] == points[~drawn]).all()  # the absent face stays absent


def test_the_silhouette_is_where_the_frame_differs_from_the_background():
    rng = np.random.default_rng(4)
    identity = dancer.random_identity(rng)
    points = motions.with_hands(motions.procedural_body(rng, 1, H, W), rng)[0]
    frame, silhouette = dancer.draw(identity, points, H, W)
    found = measure.silhouette(frame[None], dancer.background(identity, H, W))[0]
    iou = (found & silhouette).sum() / (found | silhouette).sum()
    assert iou > 0.85
    assert 0.03 < silhouette.mean() < 0.5
    # fingers are drawn: the figure covers pixels at the finger tips of both hands
    for hand in (LEFT_HAND, RIGHT_HAND):
        tips = points[hand][[8, 12], :2].round().astype(int)
        inside = (tips[:, 0] >= 0) & (tips[:, 0] < W) & (tips[:, 1] >= 0) & (tips[:, 1] < H)
        for x, y in tips[inside]:
            assert silhouette[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].any()


def test_pose_files_hold_the_keypoints_normalised_by_the_frame_size():
    rng = np.random.default_rng(5)
    points = motions.with_hands(motions.procedural_body(rng, 3, H, W), rng)
    sequence = to_sequence(points, WorldSize())
    drawn = points[..., 2] > 0
    np.testing.assert_allclose(sequence.points()[drawn][:, :2] * [W, H], points[drawn][:, :2])
    assert (sequence.width, sequence.height) == (W, H)
    assert not sequence.face[..., 2].any()


def case_of(rng: np.random.Generator, frames: int = 4) -> HeldOutCase:
    identity = dancer.random_identity(rng)
    points = motions.with_hands(motions.procedural_body(rng, frames, H, W), rng)
    drawn = [dancer.draw(identity, p, H, W) for p in points]
    frames, silhouettes = np.stack([f for f, _ in drawn]), np.stack([m for _, m in drawn])
    background = dancer.background(identity, H, W)
    return HeldOutCase("case", points, points, frames, silhouettes, background, "procedural")


def test_scores_rank_the_truth_above_the_repeated_reference_above_noise():
    rng = np.random.default_rng(6)
    case = case_of(rng, frames=12)
    perfect = measure.scores(measure.Generated(case.frames[1:]), case)
    repeated = measure.scores(measure.repeated_reference(case), case)
    noise = measure.Generated(rng.integers(0, 256, case.frames[1:].shape, dtype=np.uint8))
    random = measure.scores(noise, case)
    assert perfect["psnr"] >= 99 and perfect["ssim"] > 0.999 and perfect["iou"] > 0.85
    for metric in ("psnr", "ssim", "hand_psnr", "hand_ssim", "iou"):
        assert perfect[metric] > repeated[metric] > random[metric], metric


class ColourPullingVAE:
    """Stands in for a toy VAE whose flat colours come back wrong: every value pulled towards light grey."""

    device, dtype = torch.device("cpu"), torch.float32

    def __init__(self, keep: float):
        self.keep = keep

    def encode(self, x):
        return SimpleNamespace(latent_dist=SimpleNamespace(mode=lambda: x))

    def decode(self, z, num_frames):
        return SimpleNamespace(sample=z * self.keep + (1 - self.keep) * 0.5)


def test_the_vae_truth_silhouettes_are_found_in_its_own_frames():
    case = case_of(np.random.default_rng(8), frames=6)
    exact = measure.through_vae(ColourPullingVAE(keep=1.0), case)
    agreement = (exact.silhouettes & case.silhouettes).sum() / (exact.silhouettes | case.silhouettes).sum()
    assert agreement > 0.85  # an exact round trip: the detector finds the renderer's figure
    pulled = measure.through_vae(ColourPullingVAE(keep=0.5), case)
    truth = measure.scores(measure.Generated(pulled.frames[1:]), pulled)
    repeated = measure.scores(measure.repeated_reference(pulled), pulled)
    assert truth["iou"] == 1.0 > repeated["iou"]  # colour the VAE loses is not a misplaced figure


def test_hand_boxes_hold_the_whole_hand():
    rng = np.random.default_rng(7)
    points = motions.with_hands(motions.procedural_body(rng, 1, H, W), rng)[0]
    for (rows, cols), hand in zip(measure.hand_boxes(points, H, W), (LEFT_HAND, RIGHT_HAND), strict=True):
        xy = points[hand, :2]
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < W) & (xy[:, 1] >= 0) & (xy[:, 1] < H)
        assert (xy[inside, 0] >= cols.start - 1).all() and (xy[inside, 0] <= cols.stop + 1).all()
        assert (xy[inside, 1] >= rows.start - 1).all() and (xy[inside, 1] <= rows.stop + 1).all()


@pytest.mark.slow
def test_the_recipe_runs_end_to_end_at_ci_size(tmp_path):
    """`run.py --smoke`: world, prepare-data on the shipped keypoints, VAE, train + export of every arm,
    generation of the held-out cases, scores, tables and pictures."""
    out = tmp_path / "toy"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "toy" / "run.py"), "--smoke", "--seeds", "1",
         "--clip-frames", "5", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    for table in ("Held-out identities and motions", "Ablations", "Fusion of overlapping windows"):
        assert table in result.stdout
    # prepare-data took the keypoints shipped beside the videos
    metas = [json.loads(p.read_text()) for p in (out / "prepared" / "videos").glob("*/meta.json")]
    assert metas and all(m["pose_backend"] == "given" for m in metas)
    # every arm trained for its budget, on clips of the asked length, through `mimicmotion train` and was
    # exported
    recipe = json.loads((out / "recipe.json").read_text())
    for arm in ("main", "hand1", "threshold"):
        run = out / "runs" / f"{arm}-seed0"
        assert yaml.safe_load((run / "config.yaml").read_text())["num_frames"] == 5  # not the default, 4
        steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert steps == list(range(1, recipe["budget"]["train_steps"] + 1))
        assert (run / "model.safetensors").stat().st_size > 0
    results = json.loads((out / "results.json").read_text())
    cases = sorted(p.stem for p in (out / "world" / "test").glob("*.npz"))
    main = results["runs"]["main-seed0"]
    assert sorted(main["model"]) == cases and sorted(main["pose_zeroed"]) == cases
    assert all(np.isfinite(list(s.values())).all() for s in main["model"].values())
    # every score exists against the true frames and against their VAE round trip, whose own score
    # against the truth (the ceiling) is reported with the baseline
    metrics = ("psnr", "ssim", "hand_psnr", "hand_ssim", "iou")
    assert all({*metrics, *("vae_" + m for m in metrics)} <= set(s) for s in main["model"].values())
    baseline = results["reference_repeated"]
    assert sorted(baseline) == cases
    assert all(np.isfinite([s["vae_psnr"], s["ceiling_psnr"], s["ceiling_iou"]]).all()
               for s in baseline.values())  # fmt: skip
    assert set(main["fusion"]) == {"progressive", "official", "average"}
    assert (out / "frames.png").stat().st_size > 0 and (out / "fusion_yt.png").stat().st_size > 0


def run_refused(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`run.py ARGS --out TMP/toy`, which must stop with exit code 2 before anything is written."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "toy" / "run.py"), *args, "--out", str(tmp_path / "toy")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert not (tmp_path / "toy").exists()
    return result


@pytest.mark.skipif(torch.cuda.is_available(), reason="asks for CUDA where there is none")
def test_asking_for_a_gpu_that_is_not_there_stops_before_anything_is_written(tmp_path):
    result = run_refused(tmp_path, "--device", "cuda")
    assert "no CUDA GPU" in result.stderr and "Traceback" not in result.stderr


def test_clips_too_short_to_overlap_are_refused_before_anything_is_written(tmp_path):
    result = run_refused(tmp_path, "--clip-frames", "2")
    assert "--clip-frames must be at least 3" in result.stderr and "Traceback" not in result.stderr
