"""The example shipped inside the package: small, redistributable media that `animate --example` runs on."""

import av
import pytest

from mimicmotion.cli import build_parser, main
from mimicmotion.commands.animate import settings_from
from mimicmotion.config import EXAMPLE_DRIVING, EXAMPLE_OUT, EXAMPLE_REF, EXAMPLES
from mimicmotion.playback import output_fps
from mimicmotion.pose import prepare_reference, reference_pose
from mimicmotion.pose.build import pose_detector
from mimicmotion.video import iter_frames, probe_video, read_image

FAST = ["--resolution", "128", "--steps", "1", "--tile-size", "8", "--tile-overlap", "2"]


@pytest.fixture(autouse=True)
def private_pose_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMICMOTION_CACHE", str(tmp_path / "cache"))


def test_the_shipped_media_are_small_and_name_their_source_and_licence():
    assert EXAMPLE_REF.is_file() and EXAMPLE_DRIVING.is_file()
    assert EXAMPLE_REF.stat().st_size + EXAMPLE_DRIVING.stat().st_size < 1_000_000  # budget: well under 2 MB
    notice = (EXAMPLES / "README.md").read_text()
    assert "Apache License 2.0" in notice and "MimicMotion" in notice


@pytest.mark.usefixtures("mediapipe")
def test_the_shipped_clip_shows_a_person_dancing_in_portrait():
    info = probe_video(EXAMPLE_DRIVING)
    assert (info.width, info.height) == (576, 1024) and info.fps == 10
    frames = [frame for _, frame in iter_frames(EXAMPLE_DRIVING)]
    assert len(frames) == info.num_frames == 19
    assert abs(frames[0].astype(int) - frames[10].astype(int)).mean() > 5  # she moves
    with pose_detector("auto") as detector:
        # a person in the photo, prepared as animate prepares it, and in the clip
        reference_pose(prepare_reference(read_image(EXAMPLE_REF), 576), detector, str(EXAMPLE_REF))
        reference_pose(frames[0], detector, str(EXAMPLE_DRIVING))


def test_example_fills_in_what_is_not_given(tmp_path):
    def settings(*words):
        argv = ["animate", *words]
        return settings_from(build_parser(argv).parse_args(argv))

    (default,) = settings("--example")
    assert (default.ref, default.driving, default.out) == (EXAMPLE_REF, EXAMPLE_DRIVING, EXAMPLE_OUT)
    assert (default.stride, default.fps) == (1, "auto")
    assert output_fps(default) == 10  # every frame of the 10 fps clip, at its speed
    photo = tmp_path / "me.jpg"
    (mine,) = settings("--example", "--ref", str(photo), "--out", str(tmp_path / "me.mp4"), "--fps", "5")
    assert (mine.ref, mine.driving, mine.out, mine.fps) == (photo, EXAMPLE_DRIVING, tmp_path / "me.mp4", "5")


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
