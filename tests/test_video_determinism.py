"""The written video is a function of the frames: the same frames give the same bytes whatever the number
of CPUs the process may use (x264 runs a fixed number of threads; FFV1 and Matroska are written
bit-exact), sound included, and an .mkv output (lossless FFV1) gives the frames back exactly."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from mimicmotion.cli import build_parser
from mimicmotion.commands.animate import settings_from
from mimicmotion.config import EXAMPLE_REF
from mimicmotion.video import iter_frames, video_writer

# A child process: write the frames of an .npy file with video_writer at 10 fps.
WRITE = """
import sys
import numpy as np
from mimicmotion.video import video_writer

frames = np.load(sys.argv[1])
with video_writer(sys.argv[2], fps=10) as writer:
    for frame in frames:
        writer.write(frame)
"""

TINY_RUN = ["--resolution", "128", "--steps", "1", "--tile-size", "8", "--tile-overlap", "2",
            "--max-frames", "4", "--quiet"]  # fmt: skip


def one_cpu() -> int:
    """A CPU to restrict a child process to; skips where that would not change the CPU count."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("os.sched_setaffinity is missing on this platform: cannot restrict a process's CPUs")
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        pytest.skip("only one CPU is available: a process restricted to one CPU would see the same count")
    return min(cpus)


def restricted_to(cpu: int):
    """A `preexec_fn` that lets the child run on `cpu` only."""
    return lambda: os.sched_setaffinity(0, {cpu})


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def moving_frames(count: int, height: int, width: int) -> np.ndarray:
    """Gradients that move, a bright block sliding down and a patch of noise: work for every encoder."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    frames = np.empty((count, height, width, 3), np.uint8)
    for t in range(count):
        frames[t] = np.stack([(xx + 4 * t) % 256, (yy + 2 * t) % 256, ((xx * yy) // 512 + t) % 256], -1)
        frames[t, 40 + t : 140 + t, 100:300] = rng.integers(0, 256, (100, 200, 3), dtype=np.uint8)
        frames[t, 10 + 3 * t : 50 + 3 * t, 350:450] = 240
    return frames


def dance_with_sound(path: Path, frames: int, width: int, height: int, fps: int) -> Path:
    """A driving video with sound (a stereo tone as AAC), for the sound the output carries."""
    rate = 22050
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=rate, layout="stereo")
        for t in range(frames):
            picture = np.full((height, width, 3), 30 * t % 256, np.uint8)
            container.mux(video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        for start in range(0, rate * frames // fps + 1024, 1024):
            tone = np.sin(0.05 * np.arange(start, start + 1024)).astype(np.float32)
            sound = av.AudioFrame.from_ndarray(np.stack([tone, -tone]), format="fltp", layout="stereo")
            sound.sample_rate, sound.pts = rate, start
            container.mux(audio.encode(sound))
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_the_same_frames_give_the_same_file_on_one_cpu_and_on_all(suffix, tmp_path):
    cpu = one_cpu()
    frames = tmp_path / "frames.npy"
    np.save(frames, moving_frames(40, 320, 512))
    outputs = {}
    for name, preexec in (("all", None), ("one", restricted_to(cpu))):
        outputs[name] = tmp_path / f"{name}{suffix}"
        command = [sys.executable, "-c", WRITE, str(frames), str(outputs[name])]
        subprocess.run(command, check=True, preexec_fn=preexec, env=os.environ.copy())
    assert md5(outputs["all"]) == md5(outputs["one"])


def test_an_mkv_output_gives_the_frames_back_exactly(tmp_path):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (6, 64, 96, 3), dtype=np.uint8)
    frames[:, 16:48, 24:72] //= 3  # some structure over the noise
    path = tmp_path / "lossless.mkv"
    with video_writer(path, fps=10, crf=40) as writer:  # crf is x264's: it does not touch FFV1
        for frame in frames:
            writer.write(frame)
    with av.open(str(path)) as container:
        assert container.format.name == "matroska,webm"
        assert container.streams.video[0].codec_context.name == "ffv1"
    back = [frame for _, frame in iter_frames(path)]
    assert len(back) == len(frames)
    assert all(np.array_equal(a, b) for a, b in zip(frames, back, strict=True))


def test_an_mkv_output_with_config_is_a_file_not_a_folder(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"test_case": [{"ref_image_path": "a.jpg", "ref_video_path": "b.mp4"}]}))
    argv = ["animate", "--config", str(config), "--out", str(tmp_path / "c.mkv")]
    (settings,) = settings_from(build_parser(argv).parse_args(argv))
    assert settings.out == tmp_path / "c.mkv"


@pytest.mark.slow
@pytest.mark.usefixtures("mediapipe")  # the reference's pose is detected (auto: MediaPipe in the tests)
@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_two_animate_runs_write_the_same_bytes_on_one_cpu_and_on_all(suffix, tiny_weights, tmp_path):
    from helpers.training import given_poses

    cpu = one_cpu()
    base, checkpoint = tiny_weights
    poses = tmp_path / "poses.npz"
    given_poses(6, 96, 160, fps=30.0).save(poses)
    sound = dance_with_sound(tmp_path / "dance.mp4", 6, 96, 160, fps=30)  # gives the output's sound
    outputs = {}
    for name, preexec in (("all", None), ("one", restricted_to(cpu))):
        outputs[name] = tmp_path / name / f"a{suffix}"
        outputs[name].parent.mkdir()
        # torch's own arithmetic runs one thread in both: only the encoder sees a different CPU count
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "MIMICMOTION_CACHE": str(tmp_path / name / "cache")}  # fmt: skip
        command = [sys.executable, "-m", "mimicmotion", "animate", "--ref", str(EXAMPLE_REF),
                   "--poses", str(poses), "--driving", str(sound), "--out", str(outputs[name]),
                   "--base-model", str(base), "--checkpoint", str(checkpoint), *TINY_RUN]  # fmt: skip
        done = subprocess.run(command, preexec_fn=preexec, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert len([frame for _, frame in iter_frames(outputs["all"])]) == 4
    with av.open(str(outputs["all"])) as container:
        assert [stream.type for stream in container.streams] == ["video", "audio"]
    assert md5(outputs["all"]) == md5(outputs["one"])
