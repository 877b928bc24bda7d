"""`mimicmotion prepare-data`: poses and metadata per video, resumable, with a report of skipped videos."""

import json

import numpy as np
import pytest

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
