"""Real-time output: the frame rate `--fps auto` picks, and the driving video's sound, cut to the span and
in sync."""

import av
import numpy as np
import pytest

from mimicmotion.audio import find_audio
from mimicmotion.config import AnimateSettings
from mimicmotion.errors import MimicMotionError
from mimicmotion.generation import write_video
from mimicmotion.playback import fixed_fps, output_fps

RATE = 44100
CLICK = 1.0  # seconds into the source


def _source(path, fps: int = 24, seconds: float = 2.0, sound: bool = True) -> None:
    """A 64x64 video of `seconds` at `fps`, with (if `sound`) a mono track: silence and one click at CLICK."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width = video.height = 64
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=RATE, layout="mono") if sound else None
        for index in range(round(fps * seconds)):
            picture = np.full((64, 64, 3), index * 4 % 256, np.uint8)
            container.mux(video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(video.encode(None))
        if audio is not None:
            samples = np.zeros(round(RATE * seconds), np.float32)
            at = round(RATE * CLICK)
            samples[at : at + 64] = 0.9
            for start in range(0, len(samples), 1024):
                frame = av.AudioFrame.from_ndarray(
                    samples[None, start : start + 1024], format="fltp", layout="mono"
                )
                frame.sample_rate, frame.pts = RATE, start
                container.mux(audio.encode(frame))
            container.mux(audio.encode(None))


def _durations(path) -> tuple[float, float | None, np.ndarray | None]:
    """(video duration from its frame count and rate, audio duration, audio samples) of an mp4."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
        seconds = frames / float(video.average_rate)
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return seconds, None, None
        samples = np.concatenate([f.to_ndarray().mean(axis=0) for f in container.decode(audio=0)])
    return seconds, len(samples) / RATE, samples


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-3", "fast", ""])
def test_a_frame_rate_must_be_auto_or_a_positive_number(value):
    with pytest.raises(MimicMotionError, match="fps must be"):
        fixed_fps(value)


def test_fixed_rates_and_auto():
    assert fixed_fps("auto") is None and fixed_fps("AUTO") is None
    assert fixed_fps("15") == 15.0 and fixed_fps(12) == 12.0 and fixed_fps("29.97") == 29.97


@pytest.mark.parametrize(
    ("source_fps", "stride", "expected"), [(24, 2, 12.0), (24, 1, 24.0), (30, 2, 15.0), (60, 2, 15.0)]
)
def test_auto_plays_the_sampled_frames_at_the_pace_they_follow_each_other_in_the_source(
    tmp_path, source_fps, stride, expected
):
    # the released sampling: every stride-th frame up to 24 fps, stride x int(fps / 24) above (60: every 4th)
    _source(tmp_path / "src.mp4", fps=source_fps, seconds=0.5, sound=False)
    settings = AnimateSettings(driving=tmp_path / "src.mp4", stride=stride)
    assert output_fps(settings) == pytest.approx(expected)
    assert output_fps(settings.replace(fps="15")) == 15.0


def test_the_sound_of_the_span_is_copied_in_sync(tmp_path):
    _source(tmp_path / "src.mp4")
    # an output of 18 frames at 12 fps following source frames 6, 8, ..., 40 (stride 2 from frame 6):
    # it shows seconds 0.25 to 1.75 of the source, so the click (1.0 s) must sound 0.75 s into it
    span = find_audio(tmp_path / "src.mp4", start=6 / 24, duration=18 * 2 / 24)
    frames = (np.full((64, 64, 3), v, np.uint8) for v in range(18))
    write_video(tmp_path / "out.mp4", frames, 18, 12.0, audio=span, progress=False)
    video_seconds, audio_seconds, samples = _durations(tmp_path / "out.mp4")
    assert video_seconds == pytest.approx(1.5)
    assert audio_seconds == pytest.approx(1.5, abs=0.1)
    click = np.argmax(np.abs(samples)) / RATE
    assert click == pytest.approx(0.75, abs=1 / 24)  # within one source frame


def test_a_source_without_sound_gives_a_silent_video(tmp_path):
    _source(tmp_path / "silent.mp4", sound=False)
    assert find_audio(tmp_path / "silent.mp4", 0.0, 1.0) is None
    write_video(tmp_path / "out.mp4", iter([np.zeros((64, 64, 3), np.uint8)] * 3), 3, 12.0, progress=False)
    assert _durations(tmp_path / "out.mp4")[1] is None
