"""The example shipped inside the package: a public-domain photo and a dance made by the project's own
code, small, that `animate --example` runs on without any driving video."""

import sys
from pathlib import Path

import av
import numpy as np
import pytest

from mimicmotion.cli import build_parser, main
from mimicmotion.commands.animate import settings_from
from mimicmotion.config import EXAMPLE_OUT, EXAMPLE_POSES, EXAMPLE_REF, EXAMPLES
from mimicmotion.playback import output_fps
from mimicmotion.pose import PoseSequence, prepare_reference, reference_pose
from mimicmotion.pose.build import pose_detector
from mimicmotion.pose.skeleton import LINEAR_FIT_POINTS
from mimicmotion.pose.types import located
from mimicmotion.video import read_image

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--resolution", "128", "--steps", "1", "--tile-size", "8", "--tile-overlap", "2"]
WRISTS, ANKLES = (4, 7), (10, 13)


@pytest.fixture(autouse=True)
def private_pose_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMICMOTION_CACHE", str(tmp_path / "cache"))


def test_the_shipped_files_are_small_and_name_their_origin_and_licence():
    assert sorted(path.name for path in EXAMPLES.iterdir()) == ["README.md", "dance.npz", "reference.jpg"]
    assert EXAMPLE_REF.stat().st_size + EXAMPLE_POSES.stat().st_size < 500_000  # budget: well under 2 MB
    notice = (EXAMPLES / "README.md").read_text()
    for origin in ("scikit-image", "public domain", "NASA", "tools/make_example.py", "Apache License 2.0"):
        assert origin in notice


def test_the_shipped_dance_is_what_the_project_code_makes():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from make_example import example_dance
    finally:
        sys.path.remove(str(ROOT / "tools"))
    made, shipped = example_dance(), PoseSequence.load(EXAMPLE_POSES)
    assert (made.width, made.height, made.fps) == (shipped.width, shipped.height, shipped.fps)
    assert np.array_equal(made.frame_indices, shipped.frame_indices)
    np.testing.assert_allclose(made.points(), shipped.points(), rtol=0, atol=1e-9)


def test_the_dance_moves_arms_legs_both_hands_and_reads_as_detected():
    dance = PoseSequence.load(EXAMPLE_POSES)
    assert (dance.width, dance.height) == (576, 1024) and len(dance) / dance.fps >= 2.0
    assert located(dance.points()).all()  # a whole body, face and hands in every frame
    pixels = dance.body[..., :2] * [dance.width, dance.height]
    height = np.ptp(pixels[..., 1], axis=1).mean()  # the body's height in pixels
    for wrist in WRISTS:  # the arms swing by a good part of the body's height
        assert np.ptp(pixels[:, wrist], axis=0).max() > 0.25 * height
    for ankle in ANKLES:
        assert np.ptp(pixels[:, ankle], axis=0).max() > 0.05 * height
    for hand in (0, 1):  # fingers curl and spread: the fingertips' distances to the wrist change
        xy = dance.hands[:, hand, :, :2] * [dance.width, dance.height]
        reach = np.linalg.norm(xy[:, [4, 8, 12, 16, 20]] - xy[:, :1], axis=-1) / height
        assert np.ptp(reach, axis=0).max() > 0.03
    # confidences as a detector gives them: high mostly, dipping for some points in some frames
    confidence = dance.points()[..., 2]
    assert 0 < confidence.min() < 0.5 and 0.85 < confidence.mean() < 0.97 and confidence.max() <= 1


@pytest.mark.usefixtures("mediapipe")
def test_the_detector_finds_the_person_of_the_photo():
    photo = prepare_reference(read_image(EXAMPLE_REF), 576)
    assert photo.shape == (1024, 576, 3)  # a portrait, as the dance's frame
    with pose_detector("auto") as detector:
        pose = reference_pose(photo, detector, str(EXAMPLE_REF))
    clear = [index for index in LINEAR_FIT_POINTS if pose.body[0, index, 2] > 0.3]
    assert {0, 1, 2, 5} <= set(clear)  # nose, neck, shoulders: what the fit of the dance needs


def test_example_fills_in_what_is_not_given(tmp_path):
    def settings(*words):
        argv = ["animate", *words]
        return settings_from(build_parser(argv).parse_args(argv))

    (default,) = settings("--example")
    assert (default.ref, default.poses, default.driving, default.out) == (
        EXAMPLE_REF, EXAMPLE_POSES, None, EXAMPLE_OUT
    )  # fmt: skip
    assert default.fps == "auto" and output_fps(default) == 10  # the dance at its own speed
    photo, video = tmp_path / "me.jpg", tmp_path / "dance.mp4"
    (mine,) = settings("--example", "--ref", str(photo), "--out", str(tmp_path / "me.mp4"), "--fps", "5")
    assert (mine.ref, mine.poses, mine.out, mine.fps) == (photo, EXAMPLE_POSES, tmp_path / "me.mp4", "5")
    (driven,) = settings("--example", "--driving", str(video))  # a video of one's own: its motion
    assert (driven.ref, driven.poses, driven.driving) == (EXAMPLE_REF, None, video)


@pytest.mark.usefixtures("mediapipe")
def test_animate_example_runs_end_to_end_into_the_current_folder(tiny_weights, tmp_path, monkeypatch, capsys):
    base, checkpoint = tiny_weights
    monkeypatch.chdir(tmp_path)
    args = ["animate", "--example", "--max-frames", "4", "--base-model", str(base),
            "--checkpoint", str(checkpoint), *FAST]  # fmt: skip
    assert main(args) == 0
    said = capsys.readouterr().out
    assert "extrapolated from one measured pass" in said and f"wrote {EXAMPLE_OUT}" in said
    with av.open(str(tmp_path / EXAMPLE_OUT)) as container:
        frames = list(container.decode(video=0))
        assert container.streams.video[0].average_rate == 10
    assert len(frames) == 4 and (frames[0].width, frames[0].height) == (128, 192)


def test_example_and_config_together_are_refused(tmp_path, capsys):
    config = tmp_path / "test.yaml"
    config.write_text("test_case: []\n")
    assert main(["animate", "--example", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--example and --config" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.yaml"]
