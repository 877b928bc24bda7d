"""`mimicmotion prepare-data`: poses and metadata per video, resumable, with a report of skipped videos."""

import json
import shutil

import numpy as np
import pytest
from helpers.training import forbid_detectors, given_poses, write_test_video

from mimicmotion.cli import main
from mimicmotion.pose import PoseSequence
from mimicmotion.train.prepare import META_FILE, POSE_FILE, REPORT_FILE, VIDEOS_FOLDER, prepare_data
from mimicmotion.video import iter_frames, video_writer

GIF = "dance_576x1024_19f.gif"


@pytest.fixture
def video_folder(tmp_path, shared_data, mediapipe):
    videos = tmp_path / "videos"
    (videos / "dance").mkdir(parents=True)
    (videos / "dance" / GIF).symlink_to(shared_data / GIF)
    (videos / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    with video_writer(videos / "empty_room.mp4", fps=10) as writer:  # no person in any frame
        for level in range(8):
            writer.write(np.full((64, 64, 3), 40 + level * 10, np.uint8))
    return videos


@pytest.mark.slow
def test_prepare_data_writes_poses_meta_and_a_report_of_skipped_videos(tmp_path, video_folder, shared_data):
    out = tmp_path / "data"
    report = prepare_data(video_folder, out, workers=2, progress=False)

    assert [p.split("/")[-1] for p in report.prepared] == [GIF]
    assert set(report.skipped) == {str(video_folder / "broken.mp4"), str(video_folder / "empty_room.mp4")}
    assert report.skipped[str(video_folder / "broken.mp4")].startswith("unreadable")
    assert report.skipped[str(video_folder / "empty_room.mp4")].startswith("no person")
    on_disk = json.loads((out / REPORT_FILE).read_text())
    assert on_disk["skipped"] == report.skipped

    (entry,) = [p.parent for p in (out / VIDEOS_FOLDER).glob(f"*/{META_FILE}")]
    meta = json.loads((entry / META_FILE).read_text())
    decoded = [frame for _, frame in iter_frames(shared_data / GIF)]
    assert meta["num_frames"] == meta["pose_frames"] == len(decoded) == 19
    assert (meta["width"], meta["height"]) == (decoded[0].shape[1], decoded[0].shape[0])
    assert meta["fps"] == pytest.approx(10.0)
    assert len(meta["frame_pts"]) == 19 and meta["frame_pts"] == sorted(meta["frame_pts"])
    poses = PoseSequence.load(entry / POSE_FILE)
    assert len(poses) == 19 and poses.has_person().all()
    assert meta["pose_backend"] == "mediapipe"  # "auto" resolved to the detector that ran (no DWPose here)


def test_prepare_data_resumes_without_redoing_videos(tmp_path, video_folder):
    out = tmp_path / "data"
    prepare_data(video_folder, out, workers=1, progress=False)
    (meta,) = (out / VIDEOS_FOLDER).glob(f"*/{META_FILE}")
    stamp = meta.stat().st_mtime_ns
    leftover = out / VIDEOS_FOLDER / "half-done"  # an interrupted video: pose file but no meta
    leftover.mkdir()

    again = prepare_data(video_folder, out, workers=1, progress=False)
    assert again.prepared == [] and len(again.already_done) == 1
    assert len(again.skipped) == 2  # remembered, not retried
    assert meta.stat().st_mtime_ns == stamp


@pytest.mark.usefixtures("mediapipe")
def test_cli_prepare_data_errors(tmp_path, capsys):
    assert main(["prepare-data", "--videos", str(tmp_path / "nope"), "--out", str(tmp_path / "d")]) == 2
    assert "video folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["prepare-data", "--videos", str(tmp_path / "empty"), "--out", str(tmp_path / "d")]) == 2
    assert "no videos" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.mp4").write_bytes(b"not a video")
    args = ["prepare-data", "--videos", str(tmp_path / "bad"), "--out", str(tmp_path / "d"), "--workers", "1"]
    assert main(args) == 2
    err = capsys.readouterr()
    assert "no usable video" in err.err and "unreadable" in err.out


# ------------------------------------------------------------------------------------------- given poses

W, H, FRAMES = 48, 64, 6


def prepared_entry(out, video_name: str):
    """The prepared folder of the video called `video_name`."""
    (entry,) = [
        p.parent
        for p in (out / VIDEOS_FOLDER).glob(f"*/{META_FILE}")
        if json.loads(p.read_text())["video"].endswith("/" + video_name)
    ]
    return entry


def test_given_poses_are_used_as_they_are_without_any_detector(tmp_path, monkeypatch):
    forbid_detectors(monkeypatch)
    videos = tmp_path / "videos"
    videos.mkdir()
    write_test_video(videos / "clip.mp4", FRAMES, W, H)
    given = given_poses(FRAMES, W, H, empty={2}, fps=30.0)  # the file's fps is not the video's (10)
    given.save(videos / "clip.npz")
    given_poses(FRAMES, W, H).save(videos / "alone.npz")  # a pose file without a video: ignored

    report = prepare_data(videos, tmp_path / "data", workers=1, progress=False)

    assert report.prepared == [str(videos / "clip.mp4")] and not report.skipped
    entry = prepared_entry(tmp_path / "data", "clip.mp4")
    meta = json.loads((entry / META_FILE).read_text())
    assert meta["pose_backend"] == "given"
    assert meta["pose_file"] == str((videos / "clip.npz").resolve())
    assert (meta["num_frames"], meta["pose_frames"], meta["person_frames"]) == (FRAMES, FRAMES, FRAMES - 1)
    assert (meta["width"], meta["height"], meta["fps"]) == (W, H, pytest.approx(10.0))

    prepared = PoseSequence.load(entry / POSE_FILE)
    source = np.load(videos / "clip.npz")  # the file as written, read without the code under test
    expected = np.concatenate(
        [source["body"], source["hands"][:, 0], source["hands"][:, 1], source["face"]], 1
    )
    # frame 2 held nobody: filled halfway between frames 1 and 3, its confidences halved (every point
    # is present in both)
    expected[2, :, :2] = (expected[1, :, :2] + expected[3, :, :2]) / 2
    expected[2, :, 2] = (expected[1, :, 2] + expected[3, :, 2]) / 2 * 0.5
    np.testing.assert_allclose(prepared.points(), expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(prepared.others, source["others"])
    np.testing.assert_array_equal(prepared.frame_indices, np.arange(FRAMES))
    assert (prepared.width, prepared.height, prepared.fps) == (W, H, 10.0)
    assert len(list((tmp_path / "data" / VIDEOS_FOLDER).iterdir())) == 1  # nothing for alone.npz


def test_every_bad_pose_file_skips_its_video_with_the_reason(tmp_path, monkeypatch):
    from mimicmotion.pose.types import REFERENCE_FRAME_INDEX

    forbid_detectors(monkeypatch)
    videos = tmp_path / "videos"
    videos.mkdir()
    write_test_video(videos / "good.mp4", FRAMES, W, H)
    good = given_poses(FRAMES, W, H)
    shifted = given_poses(FRAMES, W, H)
    shifted.frame_indices = np.arange(1, FRAMES + 1)
    reference = given_poses(FRAMES, W, H)
    reference.frame_indices = np.array([REFERENCE_FRAME_INDEX, *range(FRAMES - 1)])
    files = {
        "good": good,
        "corrupt": b"not a zip file at all",
        "not_poses": "arrays",
        "swapped_size": given_poses(FRAMES, H, W),
        "short": given_poses(FRAMES - 1, W, H),
        "long": given_poses(FRAMES + 1, W, H),
        "shifted": shifted,
        "reference_first": reference,
        "mostly_empty": given_poses(FRAMES, W, H, empty={0, 1, 2, 3}),  # a person in 2 of 6 frames
    }
    for name, content in files.items():
        if name != "good":
            shutil.copy(videos / "good.mp4", videos / f"{name}.mp4")
        if isinstance(content, bytes):
            (videos / f"{name}.npz").write_bytes(content)
        elif content == "arrays":
            np.savez(videos / f"{name}.npz", body=np.zeros(3))
        else:
            content.save(videos / f"{name}.npz")

    report = prepare_data(videos, tmp_path / "data", workers=1, progress=False)

    assert report.prepared == [str(videos / "good.mp4")]
    expected = {
        "corrupt": ("bad pose file", "cannot read pose file"),
        "not_poses": ("bad pose file", "is not a pose file: it lacks hands"),
        "swapped_size": ("bad pose file", f"frames of {H}x{W}, the video's are {W}x{H}"),
        "short": ("bad pose file", f"has {FRAMES - 1} entries", f"the video {FRAMES} frames"),
        "long": ("bad pose file", f"has {FRAMES + 1} entries"),
        "shifted": ("bad pose file", f"frame indices 1..{FRAMES}", f"0..{FRAMES - 1}"),
        "reference_first": ("bad pose file", "starts with a reference image's pose"),
        "mostly_empty": ("no person", f"found in 2 of {FRAMES} frames of the pose file"),
    }
    assert set(report.skipped) == {str(videos / f"{name}.mp4") for name in expected}
    for name, parts in expected.items():
        reason = report.skipped[str(videos / f"{name}.mp4")]
        assert reason.startswith(parts[0]) and str(videos / f"{name}.npz") in reason, reason
        for part in parts[1:]:
            assert part in reason, reason
    for entry in (tmp_path / "data" / VIDEOS_FOLDER).iterdir():  # each written down beside its video
        if not (entry / META_FILE).exists():
            assert json.loads((entry / "skipped.json").read_text())["reason"].split(":")[0] in {
                "bad pose file",
                "no person",
            }


def test_above_48_fps_given_poses_keep_the_frames_detection_samples(tmp_path, monkeypatch):
    forbid_detectors(monkeypatch)
    videos = tmp_path / "videos"
    videos.mkdir()
    write_test_video(videos / "every.mp4", FRAMES, W, H, fps=50)  # detection takes every 2nd frame
    shutil.copy(videos / "every.mp4", videos / "sampled.mp4")
    every = given_poses(FRAMES, W, H)
    every.save(videos / "every.npz")  # one entry per frame
    every.select([0, 2, 4]).save(videos / "sampled.npz")  # what `mimicmotion pose --stride 1` writes

    report = prepare_data(videos, tmp_path / "data", workers=1, progress=False)

    assert len(report.prepared) == 2
    for name in ("every.mp4", "sampled.mp4"):
        prepared = PoseSequence.load(prepared_entry(tmp_path / "data", name) / POSE_FILE)
        np.testing.assert_array_equal(prepared.frame_indices, [0, 2, 4])
        np.testing.assert_array_equal(prepared.points(), every.points()[[0, 2, 4]])
        assert prepared.sample_fps == pytest.approx(25.0)


@pytest.mark.slow
def test_a_folder_with_and_without_given_poses(tmp_path, shared_data, mediapipe):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / GIF).symlink_to(shared_data / GIF)  # detected
    write_test_video(videos / "clip.mp4", FRAMES, W, H)
    given_poses(FRAMES, W, H).save(videos / "clip.npz")

    report = prepare_data(videos, tmp_path / "data", workers=1, progress=False)

    assert sorted(report.prepared) == sorted([str(videos / GIF), str(videos / "clip.mp4")])
    detected = json.loads((prepared_entry(tmp_path / "data", GIF) / META_FILE).read_text())
    given = json.loads((prepared_entry(tmp_path / "data", "clip.mp4") / META_FILE).read_text())
    assert (detected["pose_backend"], detected["pose_file"]) == ("mediapipe", None)
    assert (given["pose_backend"], given["pose_file"]) == ("given", str((videos / "clip.npz").resolve()))
    assert detected["pose_frames"] == 19 and given["pose_frames"] == FRAMES


def error_lines(err: str) -> list[str]:
    """The lines of stderr that are not the progress bar."""
    return [line for line in err.splitlines() if line.strip() and not line.startswith("prepare-data:")]


def test_cli_prepare_data_with_given_poses_errors(tmp_path, monkeypatch, capsys):
    # Every video's pose file is bad: one line, exit code 2, the reasons listed (no detector needed).
    forbid_detectors(monkeypatch)
    (tmp_path / "bad").mkdir()
    write_test_video(tmp_path / "bad" / "clip.mp4", FRAMES, W, H)
    given_poses(FRAMES - 2, W, H).save(tmp_path / "bad" / "clip.npz")
    args = ["prepare-data", "--videos", str(tmp_path / "bad"), "--out", str(tmp_path / "d"), "--workers", "1"]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "no usable video" in captured.err and len(error_lines(captured.err)) == 1
    assert "bad pose file" in captured.out and str(tmp_path / "bad" / "clip.npz") in captured.out
    monkeypatch.undo()

    # A video without a pose file needs the detector, which is not at hand: said before anything is done.
    (tmp_path / "mixed").mkdir()
    write_test_video(tmp_path / "mixed" / "with.mp4", FRAMES, W, H)
    given_poses(FRAMES, W, H).save(tmp_path / "mixed" / "with.npz")
    write_test_video(tmp_path / "mixed" / "without.mp4", FRAMES, W, H)
    args = ["prepare-data", "--videos", str(tmp_path / "mixed"), "--out", str(tmp_path / "m")]
    assert main([*args, "--pose-backend", "dwpose"]) == 2  # tests see no DWPose weights and no network
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1
    assert "1 video(s) without a pose file" in err and "without.mp4 has no without.npz" in err
    assert not (tmp_path / "m").exists()
