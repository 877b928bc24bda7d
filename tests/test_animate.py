"""`mimicmotion animate` end to end on the real media, with tiny random weights in the real formats."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import yaml
from helpers.tiny_models import checkpoint_state, save_checkpoint, tiny_pose_net, tiny_unet
from PIL import Image

from mimicmotion.cli import main

# Resolution 128 gives 128 x 192 (W x H) for the portrait reference: small enough for the tiny models.
FAST = ["--resolution", "128", "--steps", "1", "--tile-size", "8", "--tile-overlap", "2", "--quiet"]


@pytest.fixture(autouse=True)
def private_pose_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMICMOTION_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def weights(tiny_weights):
    base, checkpoint = tiny_weights
    return ["--base-model", str(base), "--checkpoint", str(checkpoint)]


def read_video(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return frames, float(stream.average_rate)


def _sound_seconds(path) -> float | None:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        return sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))


@pytest.mark.usefixtures("mediapipe")
def test_output_plays_in_real_time_with_the_sound_of_the_span_it_follows(shared_data, weights, tmp_path):
    out = tmp_path / "dance.mp4"
    args = ["animate", "--ref", str(shared_data / "ref_demo1.jpg"),
            "--driving", str(shared_data / "dance_1080x1920_24fps.mp4"),
            "--out", str(out), "--max-frames", "9", *weights, *FAST]  # fmt: skip
    assert main(args) == 0
    frames, fps = read_video(out)
    # 9 frames of a 24 fps video at stride 2 span 18 source frames: 0.75 s, played at 12 fps
    assert (len(frames), fps) == (9, 12)
    assert _sound_seconds(out) == pytest.approx(0.75, abs=0.1)
    out.unlink()
    assert main([*args, "--no-audio"]) == 0
    assert read_video(out)[1] == 12 and _sound_seconds(out) is None


@pytest.mark.usefixtures("mediapipe")
@pytest.mark.slow
def test_animate_the_dance_clip(shared_data, weights, tmp_path, capsys):
    out = tmp_path / "dance.mp4"
    args = ["animate", "--ref", str(shared_data / "ref_demo1.jpg"),
            "--driving", str(shared_data / "dance_1080x1920_24fps.mp4"),
            "--out", str(out), "--max-frames", "9", "--fps", "12", *weights, *FAST]  # fmt: skip
    assert main(args) == 0
    assert capsys.readouterr().out == ""  # --quiet: no notes
    frames, fps = read_video(out)
    assert len(frames) == 9  # one per sampled driving frame; the reference frame 0 is dropped
    assert fps == 12
    assert frames[0].shape == (192, 128, 3)
    layout = yaml.safe_load((tmp_path / "dance.windows.json").read_text())
    assert layout["num_frames"] == 10 and layout["windows"][0][0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "dance.mp4", "dance.windows.json"]

    assert _sound_seconds(out) is None  # a fixed --fps is not real time: no sound

    # the second run on the same video takes the poses from the cache and says so
    out.unlink()
    assert main([a for a in args if a != "--quiet"]) == 0
    assert "reusing the poses" in capsys.readouterr().out
    assert len(read_video(out)[0]) == 9


@pytest.mark.usefixtures("mediapipe")
@pytest.mark.slow
def test_released_config_file_runs_every_case(shared_data, weights, tmp_path):
    config = tmp_path / "test.yaml"
    case = {
        "ref_video_path": str(shared_data / "dance_576x1024_19f.gif"),
        "ref_image_path": str(shared_data / "ref_demo1.jpg"),
        "num_frames": 8, "resolution": 128, "frames_overlap": 2, "num_inference_steps": 1,
        "noise_aug_strength": 0, "guidance_scale": 2.0, "sample_stride": 2, "fps": 15, "seed": 42,
    }  # fmt: skip
    config.write_text(
        yaml.safe_dump({"base_model_path": weights[1], "ckpt_path": weights[3], "test_case": [case]})
    )
    out_dir = tmp_path / "outputs"
    assert main(["animate", "--config", str(config), "--out", str(out_dir), "--fps", "10", "--quiet"]) == 0
    (video,) = out_dir.glob("*.mp4")
    frames, fps = read_video(video)
    assert len(frames) == 10  # 19 GIF frames at 10 fps, every 2nd
    assert fps == 10  # the command line overrides the file
    assert frames[0].shape == (192, 128, 3)


@pytest.mark.usefixtures("mediapipe")
@pytest.mark.slow
def test_the_default_detector_is_dwpose_when_its_weights_are_at_hand(
    shared_data, weights, tmp_path, monkeypatch, capsys
):
    from helpers.tiny_dwpose import save_tiny_dwpose

    from mimicmotion.pose.cache import cache_path

    monkeypatch.setenv("MIMICMOTION_DWPOSE_DIR", str(save_tiny_dwpose(tmp_path / "dwpose")))
    gif = shared_data / "dance_576x1024_19f.gif"
    out = tmp_path / "out.mp4"
    args = ["animate", "--ref", str(shared_data / "ref_demo1.jpg"), "--driving", str(gif), "--out", str(out),
            "--max-frames", "3", *weights, *FAST]  # fmt: skip
    assert main([a for a in args if a != "--quiet"]) == 0
    assert "pose detector: dwpose" in capsys.readouterr().out
    assert len(read_video(out)[0]) == 3
    # the poses are cached under the detector that ran (and its model files)
    from mimicmotion.pose import get_backend

    dwpose_key = get_backend("dwpose").cache_key
    assert dwpose_key.startswith("dwpose-")
    assert cache_path(gif, dwpose_key, 2, 3).is_file() and not cache_path(gif, "auto", 2, 3).exists()
    # without the files the same command falls back to MediaPipe, says why, and detects again
    monkeypatch.delenv("MIMICMOTION_DWPOSE_DIR")
    out.unlink()
    assert main([a for a in args if a != "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "pose detector: mediapipe" in said and "mimicmotion download" in said
    mediapipe_key = get_backend("mediapipe").cache_key
    assert "reusing the poses" not in said and cache_path(gif, mediapipe_key, 2, 3).is_file()


@pytest.mark.usefixtures("mediapipe")
@pytest.mark.slow
def test_side_by_side_shows_reference_pose_and_result(shared_data, weights, tmp_path):
    out = tmp_path / "sbs.mp4"
    assert main(["animate", "--ref", str(shared_data / "ref_demo1.jpg"),
                 "--driving", str(shared_data / "dance_576x1024_19f.gif"), "--out", str(out),
                 "--max-frames", "3", "--side-by-side", *weights, *FAST]) == 0  # fmt: skip
    frames, _ = read_video(out)
    assert len(frames) == 3 and frames[0].shape == (192, 3 * 128, 3)
    reference = np.asarray(Image.open(shared_data / "ref_demo1.jpg").convert("RGB").resize((128, 228)))
    left = frames[0][:, :128].astype(float)
    # left third is the (center-cropped) reference photo: close to it up to H.264 loss
    assert np.abs(left - reference[18:210].astype(float)).mean() < 20
    # the middle third is a pose picture: mostly black with some coloured skeleton
    middle = frames[0][:, 128:256]
    assert (middle.max(axis=2) < 40).mean() > 0.7 and middle.max() > 100


@pytest.mark.usefixtures("mediapipe")
@pytest.mark.slow
def test_smooth_smooths_the_driving_poses(shared_data, weights, tmp_path):
    args = ["animate", "--ref", str(shared_data / "ref_demo1.jpg"),
            "--driving", str(shared_data / "dance_576x1024_19f.gif"),
            "--max-frames", "6", "--side-by-side", *weights, *FAST]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "raw.mp4")]) == 0
    assert main([*args, "--out", str(tmp_path / "smooth.mp4"), "--smooth"]) == 0
    raw, smooth = (read_video(tmp_path / f"{name}.mp4")[0] for name in ("raw", "smooth"))
    # same seed, same everything else: only the smoothed keypoints can change the pose pictures
    assert any(not np.array_equal(a[:, 128:256], b[:, 128:256]) for a, b in zip(raw, smooth, strict=True))


@pytest.mark.usefixtures("mediapipe")
def test_a_quiet_run_prints_nothing_not_even_a_library_notice(shared_data, tiny_weights, tmp_path):
    """In a fresh process (libraries print their notices once per process): no line at all."""
    base, checkpoint = tiny_weights
    out = tmp_path / "quiet.mp4"
    command = [sys.executable, "-m", "mimicmotion", "animate", "--ref", str(shared_data / "ref_demo1.jpg"),
               "--driving", str(shared_data / "dance_576x1024_19f.gif"), "--max-frames", "3",
               "--out", str(out), "--base-model", str(base), "--checkpoint", str(checkpoint),
               "--pose-backend", "mediapipe", *FAST]  # fmt: skip
    env = {**os.environ, "MIMICMOTION_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")
    assert out.is_file()


@pytest.mark.usefixtures("mediapipe")
@pytest.mark.slow
def test_interrupted_run_leaves_no_output(shared_data, tiny_weights, tmp_path):
    base, checkpoint = tiny_weights
    out = tmp_path / "interrupted.mp4"
    command = [sys.executable, "-m", "mimicmotion", "animate", "--ref", str(shared_data / "ref_demo1.jpg"),
               "--driving", str(shared_data / "dance_1080x1920_24fps.mp4"), "--stride", "1",
               "--max-frames", "64", "--out", str(out), "--base-model", str(base),
               "--checkpoint", str(checkpoint), *FAST]  # fmt: skip
    env = {**os.environ, "MIMICMOTION_CACHE": str(tmp_path / "cache")}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while (
        not list(tmp_path.glob(".interrupted.*.partial.mp4"))
        and process.poll() is None
        and time.time() < deadline
    ):
        time.sleep(0.02)  # wait until the video is being written
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert not out.exists() and not list(tmp_path.glob("*.partial.mp4"))
    # what was sampled stays resumable (`--resume`); nothing else is left
    assert [p.name for p in tmp_path.glob("*interrupted*")] == [".interrupted.mp4.resume"]


def run_error(args, capsys):
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.fixture
def good(shared_data, weights, tmp_path):
    return {
        "--ref": str(shared_data / "ref_demo1.jpg"),
        "--driving": str(shared_data / "dance_576x1024_19f.gif"),
        "--out": str(tmp_path / "out.mp4"),
        "--base-model": weights[1],
        "--checkpoint": weights[3],
    }


def broken_checkpoint(folder):
    state = checkpoint_state(tiny_unet(1), tiny_pose_net(2))
    del state["unet.conv_out.bias"]
    return str(save_checkpoint(folder / "broken.pth", state))


def blank_image(folder):
    path = folder / "empty_room.png"
    Image.fromarray(np.full((256, 160, 3), 127, np.uint8)).save(path)
    return str(path)


def pickled_object(folder):
    """A checkpoint that would run code if unpickled (it must never be)."""
    import pickle

    class RunsCode:
        def __reduce__(self):
            return (os.system, ("echo this ran",))

    path = folder / "unsafe.pth"
    path.write_bytes(pickle.dumps({"state_dict": RunsCode()}))
    return str(path)


def garbage(folder, name):
    path = folder / name
    path.write_bytes(b"\x00\x01 this is not media" * 10)
    return str(path)


ERRORS = {
    "missing reference": (lambda d: {"--ref": str(d / "nobody.jpg")}, "image not found"),
    "unreadable reference": (lambda d: {"--ref": garbage(d, "bad.jpg")}, "cannot read image"),
    "missing video": (lambda d: {"--driving": str(d / "none.mp4")}, "video not found"),
    "unreadable video": (lambda d: {"--driving": garbage(d, "bad.mp4")}, "cannot read video"),
    "resolution": (lambda d: {"--resolution": "500"}, "multiple of 64"),
    "stride": (lambda d: {"--stride": "0"}, "stride must be at least 1"),
    "overlap": (lambda d: {"--tile-size": "8", "--tile-overlap": "6"}, "tile_overlap"),
    "tile size": (lambda d: {"--tile-size": "1", "--tile-overlap": "1"}, "tile_size"),
    "output folder": (lambda d: {"--out": str(d / "missing" / "out.mp4")}, "output folder does not exist"),
    "output type": (lambda d: {"--out": str(d / "out.avi")}, ".mp4"),
    "fusion": (lambda d: {"--fusion": "median"}, "--fusion must be one of official, progressive, average"),
    "backend": (lambda d: {"--pose-backend": "openpose"}, "--pose-backend must be one of"),
    "style": (lambda d: {"--pose-style": "neon"}, "--pose-style must be one of"),
    "retarget": (lambda d: {"--retarget": "stretch"}, "--retarget must be one of"),
    "no person": (lambda d: {"--ref": blank_image(d)}, "no person found in the reference image"),
    "missing weights": (lambda d: {"--checkpoint": str(d / "MimicMotion_1-1.pth")}, "checkpoint not found"),
    "mismatched weights": (lambda d: {"--checkpoint": broken_checkpoint(d)}, "conv_out.bias"),
    "missing base": (lambda d: {"--base-model": str(d / "svd")}, "base model not found"),
    "device": (lambda d: {"--device": "tpu"}, "unknown device"),
    "guidance nan": (lambda d: {"--guidance": "nan"}, "min-guidance must be a number >= 0"),
    "guidance inf": (lambda d: {"--max-guidance": "inf"}, "max-guidance must be a number >= 0"),
    "noise aug": (lambda d: {"--noise-aug": "-0.1"}, "noise-aug must be a number >= 0"),
    "fps nan": (lambda d: {"--fps": "nan"}, "fps must be a positive number"),
    "fps zero": (lambda d: {"--fps": "0"}, "fps must be a positive number"),
    "fps word": (lambda d: {"--fps": "fast"}, "fps must be auto or a number"),
    "checkpoint of random bytes": (lambda d: {"--checkpoint": garbage(d, "random.pth")}, "random.pth"),
    "pickled checkpoint": (lambda d: {"--checkpoint": pickled_object(d)}, "plain tensors"),
    "pose strength": (lambda d: {"--pose-strength": "-1"}, "pose-strength must be a number >= 0"),
    "ref strength": (lambda d: {"--ref-strength": "inf"}, "ref-strength must be a number >= 0"),
    "pose interval order": (lambda d: {"--pose-interval": "0.8,0.2"}, "pose-interval must be two numbers"),
    "pose interval length": (lambda d: {"--pose-interval": "0.5"}, "pose-interval must be two numbers"),
    "cfg until": (lambda d: {"--cfg-until": "2"}, "cfg-until must be a number from 0 to 1"),
    "scheduler": (lambda d: {"--scheduler": "heun"}, "--scheduler must be one of euler, dpm++2m"),
    "sigmas rising": (lambda d: {"--sigmas": "1,5"}, "sigmas must decrease strictly"),
    "sigmas word": (
        lambda d: {"--sigmas": "fast"},
        "sigmas must be numbers separated by commas, or one of ays",
    ),
    "init noise": (lambda d: {"--init-noise": "fresh"}, "--init-noise must be one of tiled, independent"),
    "decode overlap": (lambda d: {"--decode-overlap": "8"}, "decode-overlap must be at least 0 and below"),
    "decode chunk": (lambda d: {"--decode-chunk": "0"}, "decode-chunk must be at least 1, got 0"),
    "decode overlap of a shorter chunk": (
        lambda d: {"--decode-chunk": "4", "--decode-overlap": "4"},
        "below the decoding chunk of 4 frames",
    ),
    "offload": (lambda d: {"--offload": "disk"}, "--offload must be one of none, model, sequential"),
    "vram": (lambda d: {"--vram": "8"}, "--vram must be one of off, auto"),
    "poses not a pose file": (lambda d: {"--poses": garbage(d, "poses.mp4")}, "--poses takes a pose .npz"),
    "poses unreadable": (lambda d: {"--poses": garbage(d, "poses.npz")}, "poses.npz"),
}


@pytest.mark.parametrize("case", list(ERRORS))
@pytest.mark.usefixtures("mediapipe")
def test_bad_input_gives_one_line_and_exit_code_2(case, good, tmp_path, capsys):
    change, expected = ERRORS[case]
    options = {**good, **change(tmp_path)}
    args = ["animate", *FAST, *[x for pair in options.items() for x in pair]]
    code, err = run_error(args, capsys)
    assert code == 2, err
    assert expected in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not Path(options["--out"]).exists() and not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize(
    "flags, phrase",
    [
        (
            ["--offload", "model"],
            "--offload moves idle parts of the model to the CPU; it needs --device cuda",
        ),
        (["--offload", "sequential"], "--offload moves idle parts"),
        (["--vram", "auto"], "--vram auto plans for a GPU's free memory; it needs --device cuda"),
        (["--tf32"], "--tf32 speeds up fp32 on a CUDA GPU; it needs --device cuda and --dtype fp32"),
    ],
)
def test_gpu_options_need_cuda(good, flags, phrase, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    options = [x for pair in good.items() for x in pair]
    code, err = run_error(["animate", *options, *flags, *FAST], capsys)
    assert code == 2 and phrase in err and len(err.splitlines()) == 1


def test_config_with_several_cases_needs_an_output_folder(shared_data, weights, tmp_path, capsys):
    case = {"ref_video_path": str(shared_data / "dance_576x1024_19f.gif"),
            "ref_image_path": str(shared_data / "ref_demo1.jpg")}  # fmt: skip
    config = tmp_path / "two.yaml"
    config.write_text(yaml.safe_dump({"test_case": [case, case]}))
    code, err = run_error(["animate", "--config", str(config), "--out", str(tmp_path / "x.mp4")], capsys)
    assert code == 2 and "--out must be a folder" in err
    assert not (tmp_path / "x.mp4").exists()


def test_config_errors_stop_before_any_folder_is_made(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"test_case": [{"ref_video_path": "x.mp4", "num_frames": "many"}]}))
    code, err = run_error(["animate", "--config", str(config), "--out", str(tmp_path / "outs")], capsys)
    assert code == 2 and "num_frames" in err
    code, err = run_error(["animate", "--config", str(tmp_path / "none.yaml")], capsys)
    assert code == 2 and "config file not found" in err
    config.write_text("test_case:\n  - ref_video_path: x.mp4\n    seed: [42\n")  # malformed YAML
    code, err = run_error(["animate", "--config", str(config), "--out", str(tmp_path / "outs")], capsys)
    assert code == 2 and f"cannot read config {config}" in err and len(err.splitlines()) == 1
    config.write_text(yaml.safe_dump({"test_case": [{"ref_video_path": "x.mp4", "sede": 1}]}))
    code, err = run_error(["animate", "--config", str(config), "--out", str(tmp_path / "outs")], capsys)
    assert code == 2 and "test case 1: unknown setting 'sede' (did you mean 'seed'?)" in err
    assert not (tmp_path / "outs").exists()


def test_download_fetches_the_released_checkpoint_by_default(tiny_weights, monkeypatch, capsys):
    import mimicmotion.loading as loading

    base, checkpoint = tiny_weights
    asked = []
    monkeypatch.setattr(loading, "resolve_checkpoint", lambda name: asked.append(name) or checkpoint)
    assert main(["download", "--base-model", str(base), "--no-dwpose"]) == 0
    assert asked == ["tencent/MimicMotion/MimicMotion_1-1.pth"]
    assert f"checkpoint: {checkpoint}" in capsys.readouterr().out


def test_download_offline_names_the_files_and_both_remedies(monkeypatch, capsys):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, err = run_error(["download", "--base-model", "someone/not-cached-svd"], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "someone/not-cached-svd" in err and "vae/diffusion_pytorch_model.fp16.safetensors" in err
    assert "mimicmotion download" in err and "--base-model FOLDER" in err


@pytest.mark.usefixtures("mediapipe")
def test_a_killed_run_resumes_to_the_frames_of_an_uninterrupted_one(shared_data, tiny_weights, tmp_path):
    from mimicmotion.resume import state_path

    base, checkpoint = tiny_weights
    env = {**os.environ, "MIMICMOTION_CACHE": str(tmp_path / "cache")}

    def command(out, *more):
        return [sys.executable, "-m", "mimicmotion", "animate", "--ref", str(shared_data / "ref_demo1.jpg"),
                "--driving", str(shared_data / "dance_576x1024_19f.gif"), "--max-frames", "10",
                "--out", str(out), "--base-model", str(base), "--checkpoint", str(checkpoint),
                "--pose-backend", "mediapipe", *FAST, "--steps", "12", *more]  # fmt: skip

    whole = subprocess.run(
        command(tmp_path / "whole.mp4"), env=env, capture_output=True, text=True, check=False
    )
    assert whole.returncode == 0, whole.stderr

    out = tmp_path / "killed.mp4"
    process = subprocess.Popen(command(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, step = time.time() + 300, -1
    while step < 3 and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
        if state_path(out).is_file():
            step = torch.load(state_path(out), weights_only=True)["step"]
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)  # no chance to clean up
    process.wait(timeout=60)
    assert step < 11 and state_path(out).is_file() and not out.exists()

    resumed = subprocess.run(command(out, "--resume"), env=env, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert all(np.array_equal(a, b) for a, b in zip(read_video(out)[0], read_video(tmp_path / "whole.mp4")[0],
                                                    strict=True))  # fmt: skip
    # the state is gone with the finished video, and nothing hidden is left
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.usefixtures("mediapipe")
@pytest.mark.parametrize(
    ("saved", "phrase"),
    [
        ({"step": 0, "latents": torch.zeros(1), "key": "another run"}, "belongs to other inputs or settings"),
        (b"not a saved state", "cannot read the saved state"),
    ],
)
def test_resume_refuses_a_state_of_another_run_or_a_damaged_one(good, saved, phrase, capsys):
    from mimicmotion.resume import state_path

    state = state_path(good["--out"])
    if isinstance(saved, bytes):
        state.write_bytes(saved)
    else:
        torch.save(saved, state)
    options = [x for pair in good.items() for x in pair]
    code, err = run_error(["animate", *options, "--resume", *FAST], capsys)
    assert code == 2 and phrase in err and len(err.splitlines()) == 1
    assert not Path(good["--out"]).exists() and state.is_file()  # the state is left as it was


def test_resume_needs_a_saved_state(good, capsys):
    options = [x for pair in good.items() for x in pair]
    code, err = run_error(["animate", *options, "--resume", *FAST], capsys)
    assert code == 2 and "--resume: no saved state" in err
