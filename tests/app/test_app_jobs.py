"""The app's output folder and history, its limits and the folders it reads from. No Gradio needed."""

import json

import pytest

from mimicmotion.app.jobs import JobStore
from mimicmotion.app.media import Limits, check_source, describe_motion, describe_photo, example_media
from mimicmotion.config import EXAMPLE_POSES
from mimicmotion.errors import MimicMotionError
from mimicmotion.pose import PoseSequence


def test_a_finished_job_is_in_the_history_of_a_new_store_on_the_same_folder(tmp_path):
    store = JobStore(tmp_path / "outputs")
    with store.running() as folder:
        (folder / "result.mp4").write_bytes(b"video")
        job = store.finish(folder, {"photo": "me.jpg", "frames": 4, "settings": {"steps": 2}})
    assert not folder.exists() and job.result.read_bytes() == b"video"
    again = JobStore(tmp_path / "outputs")  # the app restarted
    (listed,) = again.history()
    assert listed.id == job.id and listed.record["frames"] == 4
    assert json.loads((listed.folder / "job.json").read_text())["settings"] == {"steps": 2}
    assert listed.summary()[:3] == [job.id, job.record["finished"], "me.jpg"]
    assert again.job(job.id).folder == job.folder


def test_a_job_that_fails_or_is_cancelled_leaves_nothing(tmp_path):
    store = JobStore(tmp_path)
    with pytest.raises(KeyboardInterrupt), store.running() as folder:
        (folder / "result.mp4").write_bytes(b"half a video")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == [] and store.history() == []


def test_what_a_killed_app_left_is_removed_at_the_next_start(tmp_path):
    (tmp_path / ".running-20260101-000000-abcdef").mkdir()
    (tmp_path / ".running-20260101-000000-abcdef" / "result.mp4").write_bytes(b"half")
    store = JobStore(tmp_path)
    store.preview_folder()
    store.clean()
    assert list(tmp_path.iterdir()) == []


def test_files_are_read_only_from_the_apps_folders(tmp_path):
    uploads, outputs = tmp_path / "uploads", tmp_path / "outputs"
    (uploads / "x").mkdir(parents=True)
    outputs.mkdir()
    assert check_source(uploads / "x" / "me.jpg", [uploads, outputs]) == (uploads / "x" / "me.jpg").resolve()
    for outside in (tmp_path / "secret.jpg", uploads / ".." / "secret.jpg", "/etc/passwd"):
        with pytest.raises(MimicMotionError, match="not an upload, an example or an output"):
            check_source(outside, [uploads, outputs])


def test_inputs_are_described_as_read_and_a_long_video_is_refused(shared_data):
    assert describe_photo(shared_data / "ref_demo1.jpg") == "ref_demo1.jpg: 1080 x 1920 pixels"
    gif = shared_data / "dance_576x1024_19f.gif"
    assert describe_motion(gif, Limits(10, 60)) == (
        "dance_576x1024_19f.gif: 576 x 1024 pixels, 19 frames, 1.90 s at 10 fps"
    )
    with pytest.raises(MimicMotionError) as error:
        describe_motion(gif, Limits(10, 1.5))
    assert str(error.value) == (
        "the driving video lasts 1.9 s; this app takes videos of at most 1.5 s (--max-seconds): cut it "
        "shorter first"
    )


def test_a_pose_file_is_described_by_its_poses_and_refused_when_too_long():
    # the shipped example's dance: 24 poses at 10 fps in a 576 x 1024 frame
    assert describe_motion(EXAMPLE_POSES, Limits(10, 60)) == (
        "dance.npz: 576 x 1024 pixels, 24 poses, 2.40 s at 10 fps"
    )
    with pytest.raises(MimicMotionError, match=r"poses last 2\.4 s; this app takes motions of at most 2 s"):
        describe_motion(EXAMPLE_POSES, Limits(10, 2))


def test_a_pose_file_without_a_frame_rate_is_refused(tmp_path):
    still = PoseSequence.load(EXAMPLE_POSES)
    still.fps = 0.0  # as the pose of a still image is written
    still.save(tmp_path / "still.npz")
    with pytest.raises(MimicMotionError) as error:
        describe_motion(tmp_path / "still.npz")
    assert str(error.value) == "still.npz gives no frame rate (fps 0): poses to follow need one"


@pytest.mark.parametrize("name", ["dance.mp4", "dance.npz"])
def test_a_file_that_is_no_video_or_pose_file_is_one_line(tmp_path, name):
    fake = tmp_path / name
    fake.write_bytes(b"not a video")
    with pytest.raises(MimicMotionError) as error:
        describe_motion(fake)
    assert "\n" not in str(error.value) and name in str(error.value)


def test_example_media_are_the_photos_and_motions_of_the_folders(tmp_path):
    for name in ("b.mp4", "a.jpg", "c.gif", "notes.txt", "d.png", "e.npz"):
        (tmp_path / name).write_bytes(b"")
    photos, motions = example_media([tmp_path, tmp_path / "missing"])
    assert [p.name for p in photos] == ["a.jpg", "d.png"]
    assert [p.name for p in motions] == ["b.mp4", "c.gif", "e.npz"]
