"""`mimicmotion pose` and `build_pose_frames` end to end, and their errors."""

import av
import numpy as np
import pytest
import torch
from PIL import Image

from mimicmotion.cli import main
from mimicmotion.errors import MimicMotionError
from mimicmotion.pose import PoseSequence, build_pose_frames, render_pose, retargeted_poses


def run_cli(capsys, *args):
    code = main(["pose", *map(str, args)])
    return code, capsys.readouterr().err


def assert_one_line_error(code, err, *needles):
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("mimicmotion pose: error:")
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture
def blank_image(tmp_path):
    path = tmp_path / "wall.png"
    Image.fromarray(np.full((640, 360, 3), 120, np.uint8)).save(path)
    return path


@pytest.mark.usefixtures("mediapipe")
def test_reference_without_a_person(shared_data, blank_image, tmp_path, capsys):
    out = tmp_path / "p.npz"
    gif = shared_data / "dance_576x1024_19f.gif"
    code, err = run_cli(capsys, "--driving", gif, "--ref", blank_image, "--out", out)
    assert_one_line_error(code, err, "no person found in the reference image", str(blank_image))
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["wall.png"]


@pytest.mark.usefixtures("mediapipe")
def test_reference_without_a_person_from_the_library(shared_data, blank_image):
    with pytest.raises(MimicMotionError, match=f"no person found in the reference image {blank_image}"):
        build_pose_frames(blank_image, shared_data / "dance_576x1024_19f.gif", max_frames=2, progress=False)


@pytest.mark.usefixtures("mediapipe")
def test_unreadable_and_empty_videos(tmp_path, capsys):
    garbage = tmp_path / "clip.mp4"
    garbage.write_text("this is not a video")
    code, err = run_cli(capsys, "--driving", garbage, "--out", tmp_path / "p.npz")
    assert_one_line_error(code, err, "clip.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    code, err = run_cli(capsys, "--driving", empty, "--out", tmp_path / "p.npz")
    assert_one_line_error(code, err, "empty.mp4")
    folder = tmp_path / "frames"
    folder.mkdir()
    code, err = run_cli(capsys, "--driving", folder, "--out", tmp_path / "p.npz")
    assert_one_line_error(code, err, "no images")
    code, err = run_cli(capsys, "--driving", tmp_path / "missing.mp4", "--out", tmp_path / "p.npz")
    assert_one_line_error(code, err, "video not found")
    assert not (tmp_path / "p.npz").exists()


def test_unknown_names_fail_before_any_work(tmp_path, capsys):
    args = ("--driving", tmp_path / "never-read.mp4", "--out", tmp_path / "p.npz")
    unknown = "must be one of auto, dwpose, mediapipe, got 'openpose'"
    assert_one_line_error(*run_cli(capsys, *args, "--pose-backend", "openpose"), "--pose-backend " + unknown)
    unknown = "must be one of released, confidence, threshold, got 'neon'"
    assert_one_line_error(*run_cli(capsys, *args, "--pose-style", "neon"), "--pose-style " + unknown)
    assert_one_line_error(*run_cli(capsys, *args, "--retarget", "warp"), "--retarget must be one of")
    assert_one_line_error(*run_cli(capsys, *args, "--stride", "0"), "--stride")
    assert_one_line_error(*run_cli(capsys, *args, "--resolution", "0"), "resolution")
    missing_dir = ("--driving", tmp_path / "v.mp4", "--out", tmp_path / "missing" / "p.npz")
    assert_one_line_error(*run_cli(capsys, *missing_dir), "output folder does not exist")


@pytest.mark.usefixtures("mediapipe")
def test_raw_poses_and_render_of_the_gif(shared_data, tmp_path, capsys):
    out, video = tmp_path / "p.npz", tmp_path / "p.mp4"
    gif = shared_data / "dance_576x1024_19f.gif"
    code = main(["pose", *map(str, ["--driving", gif, "--out", out, "--render", video, "--stride", 2,
                                    "--max-frames", 6])])  # fmt: skip
    said = capsys.readouterr().out
    assert code == 0
    assert said.count("person found in") == 1  # the fill summary, once
    seq = PoseSequence.load(out)
    assert len(seq) == 6 and seq.frame_indices.tolist() == [0, 2, 4, 6, 8, 10]
    assert (seq.width, seq.height) == (576, 1024) and seq.has_person().all()
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert len(frames) == 6 and frames[0].shape == (1024, 576, 3)
    expected = render_pose(seq, 3, 1024, 576)
    assert np.abs(frames[3].astype(int) - expected).mean() < 3  # the same picture, through H.264
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.mp4", "p.npz"]


@pytest.mark.usefixtures("mediapipe")
def test_retargeted_poses_start_with_the_reference_pose(shared_data, tmp_path, capsys):
    out = tmp_path / "p.npz"
    gif, ref = shared_data / "dance_576x1024_19f.gif", shared_data / "ref_demo1.jpg"
    code, err = run_cli(
        capsys, "--driving", gif, "--ref", ref, "--out", out, "--max-frames", 4, "--quiet", "--smooth"
    )
    assert code == 0 and err == ""
    seq = PoseSequence.load(out)
    assert len(seq) == 5 and seq.frame_indices.tolist() == [-1, 0, 2, 4, 6]
    assert (seq.width, seq.height) == (576, 1024)


@pytest.mark.usefixtures("mediapipe")
def test_build_pose_frames_gives_what_the_pipeline_takes(shared_data):
    ref = shared_data / "ref_demo1.jpg"
    image, frames, seq = build_pose_frames(
        ref, shared_data / "dance_576x1024_19f.gif", max_frames=3, progress=False
    )
    with frames:
        assert image.shape == (1024, 576, 3) and image.dtype == np.uint8
        assert len(frames) == len(seq) == 4 and frames.shape == (4, 3, 1024, 576)
        assert seq.frame_indices[0] == -1 and seq.has_person().all()
        first = torch.from_numpy(render_pose(seq, 0, 1024, 576)).permute(2, 0, 1)
        assert torch.equal(frames[[0]][0], first)
    assert not frames.path.exists()


@pytest.mark.usefixtures("mediapipe")
def test_poses_already_moved_onto_a_reference_are_not_driving_poses(shared_data, tmp_path, capsys):
    ref, gif = shared_data / "ref_demo1.jpg", shared_data / "dance_576x1024_19f.gif"
    moved = tmp_path / "m.npz"
    code, _ = run_cli(capsys, "--driving", gif, "--ref", ref, "--out", moved, "--max-frames", 2, "--quiet")
    assert code == 0
    with pytest.raises(MimicMotionError, match="pose --ref"):
        retargeted_poses(ref, moved, progress=False)
    raw = tmp_path / "raw.npz"
    assert run_cli(capsys, "--driving", gif, "--out", raw, "--max-frames", 2, "--quiet")[0] == 0
    assert len(retargeted_poses(ref, raw, progress=False)[1]) == 3  # the reference's pose, then 2 frames
