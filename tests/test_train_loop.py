"""Training end to end with tiny random models on a video prepared from ../shared/data.

- the loss on a fixed batch falls; the warm-up is linear; a validation video is written;
- an exported checkpoint loads into the inference pipeline and samples;
- a run killed with SIGKILL after a checkpoint and resumed matches an uninterrupted run;
- two processes (`accelerate launch`, CPU/gloo) train together and write one checkpoint;
- every bad input is one clear error with exit code 2.
"""

import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.tiny_models import save_tiny_base
from helpers.training import (
    forbid_detectors,
    given_poses,
    prepare_gif,
    tiny_settings,
    write_settings,
    write_test_video,
)

from mimicmotion.cli import main
from mimicmotion.errors import MimicMotionError
from mimicmotion.loading import read_state_dict, split_checkpoint
from mimicmotion.train.checkpoint import export_checkpoint, list_checkpoints
from mimicmotion.train.config import load_config

pytestmark = pytest.mark.slow  # training runs

STEPS = 50


@pytest.fixture(scope="module")
def data(tmp_path_factory, shared_data, mediapipe):
    return prepare_gif(shared_data, tmp_path_factory.mktemp("prepared"))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return save_tiny_base(tmp_path_factory.mktemp("tiny") / "base")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, data, base):
    from mimicmotion.train.loop import train

    run_dir = tmp_path_factory.mktemp("runs") / "run"
    settings = tiny_settings(
        data, run_dir, base, max_steps=STEPS, warmup_steps=10, checkpoint_every=25, validate_every=25
    )
    return train(load_config(None, settings))


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def clip_losses_of(base: Path, data: Path, checkpoint: Path | None, indices, sigmas=None) -> torch.Tensor:
    """Per-clip losses of samples `indices` with the weights in `checkpoint` (None: the initial ones).

    The noise is each sample's own (as training draws it), with the noise level replaced by `sigmas`
    when given; `sigmas` also turns off dropout and noise augmentation.
    """
    from mimicmotion.pipeline import MimicMotionPipeline
    from mimicmotion.train.dataset import ClipDataset, load_prepared
    from mimicmotion.train.model import MimicMotionModel
    from mimicmotion.train.objective import sample_noise, stack_noise
    from mimicmotion.train.step import clip_losses

    c = load_config(None, tiny_settings(data, "unused", base))
    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=checkpoint)
    model = MimicMotionModel(pipe.unet, pipe.pose_net)
    dataset = ClipDataset(load_prepared(data), c)
    batch = torch.utils.data.default_collate([dataset[i] for i in indices])
    noises = []
    for k, index in enumerate(indices):
        if sigmas is None:
            noise = sample_noise(c.seed, index, (4, 4, 8, 4), (3, 64, 32), c.p_mean, c.p_std,
                                 (c.noise_aug_min, c.noise_aug_max), c.uncond_prob)  # fmt: skip
        else:
            noise = sample_noise(1234, index, (4, 4, 8, 4), (3, 64, 32), 0.0, 1.0, (0.0, 0.0), 0.0)
            noise = dataclasses.replace(noise, sigma=torch.tensor(sigmas[k]))
        noises.append(noise)
    with torch.no_grad():
        loss, _ = clip_losses(model, pipe, batch, stack_noise(noises, torch.device("cpu")), 7, 127)
    return loss


def fixed_batch_loss(base: Path, data: Path, checkpoint: Path | None) -> float:
    """Mean loss of four clips at fixed noise levels."""
    return clip_losses_of(base, data, checkpoint, [0, 1, 2, 3], sigmas=[0.3, 1.0, 3.0, 10.0]).mean().item()


def test_loss_on_a_fixed_batch_falls(trained_run, base, data):
    before = fixed_batch_loss(base, data, None)
    after = fixed_batch_loss(base, data, list_checkpoints(trained_run)[-1] / "model.safetensors")
    print(f"fixed-batch loss: {before:.4f} -> {after:.4f} after {STEPS} steps")
    assert after < 0.75 * before


def test_metrics_warmup_and_validation_video(trained_run):
    records = metrics(trained_run)
    assert [r["step"] for r in records] == list(range(1, STEPS + 1))
    for r in records:
        assert {"loss", "lr", "sigma", "seconds"} <= set(r) and r["seconds"] > 0 and r["sigma"] > 0
        # linear warm-up over 10 steps, then constant (the update of step s uses lr * (s - 1) / 10)
        assert r["lr"] == pytest.approx(1e-3 * min(1.0, (r["step"] - 1) / 10))
    assert [p.name for p in list_checkpoints(trained_run)] == ["step-00000025", "step-00000050"]
    from mimicmotion.video import probe_video

    video = trained_run / "validation" / "step-00000025.mp4"
    assert probe_video(video).num_frames == 3  # num_frames - 1: frame 0 stands for the reference
    assert list((trained_run / "tensorboard").rglob("events.out.tfevents.*"))


def test_exported_checkpoint_loads_into_the_pipeline_and_samples(trained_run, base, tmp_path):
    from mimicmotion import MimicMotionPipeline

    trained = read_state_dict(list_checkpoints(trained_run)[-1] / "model.safetensors")
    exact = export_checkpoint(trained_run, tmp_path / "mm.safetensors", dtype="float32")
    assert main(["export", str(trained_run), "--out", str(tmp_path / "mm.pth")]) == 0  # float16, as released
    for path, tolerance in [(exact, 0.0), (tmp_path / "mm.pth", 1e-2)]:
        state = read_state_dict(path)
        split_checkpoint(state, path)  # only unet.* and pose_net.* keys
        assert state.keys() == trained.keys()
        worst = max((state[k].float() - trained[k]).abs().max().item() for k in state)
        assert worst <= tolerance * max(t.abs().max().item() for t in trained.values())
        pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=path)
        pipe.set_progress_bar_config(disable=True)
        pose = torch.rand(5, 3, 64, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
        frames = pipe(torch.rand(3, 64, 32), pose, tile_size=4, tile_overlap=2, num_inference_steps=2).frames
        assert frames.shape == (1, 5, 3, 64, 32) and torch.isfinite(frames).all()
    # The trained PoseNet is no longer the zero-initialised one: it conditions the unet.
    assert trained["pose_net.final_proj.weight"].abs().max() > 0


def test_validation_frames_are_what_animate_makes_of_the_same_inputs(tmp_path, data, base, shared_data):
    """Validation goes through animate's generation path: the validation video of a step is the video
    `mimicmotion animate` writes from the same first frame, poses and settings with that step's weights."""
    import av
    from PIL import Image

    from mimicmotion.pose import PoseSequence
    from mimicmotion.train.dataset import load_prepared
    from mimicmotion.train.loop import train
    from mimicmotion.video import iter_frames

    run_dir = tmp_path / "run"
    train(load_config(None, tiny_settings(data, run_dir, base, height=64, width=64, max_steps=1,
                                          checkpoint_every=1, validate_every=1)))  # fmt: skip
    checkpoint = export_checkpoint(run_dir, tmp_path / "step-1.safetensors", dtype="float32")
    (video,) = load_prepared(data)
    Image.fromarray(next(iter_frames(video.video))[1]).save(tmp_path / "first.png")
    fps = PoseSequence.load(video.folder / "pose.npz").sample_fps

    def animate(seed: int) -> list[np.ndarray]:
        out = tmp_path / f"animate-{seed}.mp4"
        # 64 x 64 is the frame size resolution 64 gives for this portrait video; one window of 4 frames
        assert main(["animate", "--ref", str(tmp_path / "first.png"),
                     "--driving", str(video.folder / "pose.npz"), "--out", str(out),
                     "--max-frames", "3", "--resolution", "64", "--tile-size", "4",
                     "--tile-overlap", "1", "--steps", "2", "--seed", str(seed), "--fps", str(fps),
                     "--pose-backend", video.pose_backend, "--base-model", str(base),
                     "--checkpoint", str(checkpoint), "--quiet"]) == 0  # fmt: skip
        with av.open(str(out)) as container:
            return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]

    with av.open(str(run_dir / "validation" / "step-00000001.mp4")) as container:
        validation = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    animated, other_seed = animate(42), animate(43)
    assert len(validation) == len(animated) == 3

    def mean_differences(a: list[np.ndarray], b: list[np.ndarray]) -> list[float]:
        return [float(np.abs(x.astype(int) - y).mean()) for x, y in zip(a, b, strict=True)]

    # Not bit for bit: two model instances with the same weights give unet outputs that differ by ~1e-6 on
    # this CPU (float reductions depend on where tensors lie in memory; measured in one process and across
    # processes), and the tiny random decoder amplifies that to about 1-2 levels on average. Another seed,
    # the smallest change of settings, moves every frame by about 20 levels.
    assert max(mean_differences(validation, animated)) < 4
    assert min(mean_differences(other_seed, animated)) > 10


def test_given_pose_backend_moves_the_known_pose_into_the_prepared_image():
    from mimicmotion.pose import GivenPoseBackend, PoseSequence
    from mimicmotion.pose.types import absent_points

    points = absent_points(1, 128)
    points[0, :3] = [[0.5, 0.5, 0.9], [0.25, 0.25, 0.8], [0.1, 0.75, 0.7]]  # the rest absent
    pose = PoseSequence.from_points(points, 100, 200, 0.0, [-1])  # an image 100 wide, 200 high
    with GivenPoseBackend(pose) as backend:
        same = backend.detect_image(np.zeros((200, 100, 3), np.uint8))
        # 64 x 64: resized to 64 x 128 (w x h), 32 rows cut at the top: y -> (y * 128 - 32) / 64
        square = backend.detect_image(np.zeros((64, 64, 3), np.uint8))
        with pytest.raises(MimicMotionError, match="one image"):
            list(backend.detect_frames([np.zeros((200, 100, 3), np.uint8)], video=True))
    np.testing.assert_array_equal(same.points(), points)
    assert (square.width, square.height, square.frame_indices.tolist()) == (64, 64, [-1])
    np.testing.assert_allclose(square.points()[0, :3], [[0.5, 0.5, 0.9], [0.25, 0.0, 0.8], [0.1, 1.0, 0.7]])
    np.testing.assert_array_equal(square.points()[0, 3:], points[0, 3:])  # absent points stay absent


def test_training_on_given_poses_validates_without_any_detector(tmp_path, base, monkeypatch):
    """Videos prepared from given poses: training and its validation video need no detector; the
    reference's pose in the validation video is the given pose of the first frame, moved into the crop."""
    import mimicmotion.generation
    from mimicmotion.train.loop import train
    from mimicmotion.train.prepare import prepare_data
    from mimicmotion.video import probe_video

    forbid_detectors(monkeypatch)
    videos = tmp_path / "videos"
    videos.mkdir()
    write_test_video(videos / "clip.mp4", 8, 48, 64)  # 48 x 64; training at 32 x 64 cuts 8 columns a side
    given = given_poses(8, 48, 64, empty={3})
    given.save(videos / "clip.npz")
    assert len(prepare_data(videos, tmp_path / "data", workers=1, progress=False).prepared) == 1

    made = []
    pose_inputs = mimicmotion.generation.pose_inputs

    def recorded(*args, **kwargs):
        made.append(pose_inputs(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(mimicmotion.generation, "pose_inputs", recorded)
    run_dir = tmp_path / "run"
    settings = tiny_settings(tmp_path / "data", run_dir, base, max_steps=1, validate_every=1)
    train(load_config(None, settings))

    video = run_dir / "validation" / "step-00000001.mp4"
    assert video.is_file() and probe_video(video).num_frames == 3
    (inputs,) = made
    reference = inputs.poses.select([0])
    expected = given.points()[0].copy()
    expected[:, 0] = (expected[:, 0] * 48 - 8) / 32  # the crop, by hand: 48 -> 48 wide, 8 cut on the left
    np.testing.assert_allclose(reference.points()[0], expected, atol=1e-12)
    assert reference.people_count()[0] == 2  # the other person of frame 0 too


# --------------------------------------------------------------------------------- subprocess runs


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mimicmotion", *args]


def environment() -> dict:
    return os.environ | {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}


def test_killed_and_resumed_run_matches_an_uninterrupted_one(tmp_path, data, base):
    common = dict(gradient_accumulation_steps=2, ema=True, checkpoint_every=3, keep_checkpoints=2)
    straight = write_settings(
        tmp_path / "a.yaml", tiny_settings(data, tmp_path / "a", base, max_steps=8, **common)
    )
    subprocess.run(command("train", "--config", str(straight)), env=environment(), check=True, timeout=300)

    # The same run, long enough to be still running when it is killed two steps after its first checkpoint.
    killed = write_settings(
        tmp_path / "b.yaml", tiny_settings(data, tmp_path / "b", base, max_steps=1000, **common)
    )
    process = subprocess.Popen(command("train", "--config", str(killed)), env=environment())
    first = tmp_path / "b" / "checkpoints" / "step-00000003" / "trainer_state.json"

    def logged_steps() -> int:
        path = tmp_path / "b" / "metrics.jsonl"
        return len(path.read_text().splitlines()) if path.exists() else 0

    deadline = time.monotonic() + 240
    while (
        not (first.exists() and logged_steps() >= 5)
        and process.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at, latest = logged_steps(), list_checkpoints(tmp_path / "b")[-1].name
    assert first.exists() and process.returncode == -signal.SIGKILL and killed_at >= 5

    resume = command("train", "--resume", str(tmp_path / "b"), "--max-steps", "8")
    subprocess.run(resume, env=environment(), check=True, timeout=300)

    a, b = metrics(tmp_path / "a"), metrics(tmp_path / "b")
    assert [r["step"] for r in b] == list(range(1, 9))  # lines written after the checkpoint were replaced
    for x, y in zip(a, b, strict=True):
        assert abs(x["loss"] - y["loss"]) <= 1e-5, (x, y)
        assert x["lr"] == y["lr"] and abs(x["sigma"] - y["sigma"]) <= 1e-6
    final_a, final_b = (list_checkpoints(tmp_path / run)[-1] for run in ("a", "b"))
    for name in ("model.safetensors", "ema.safetensors"):
        wa, wb = read_state_dict(final_a / name), read_state_dict(final_b / name)
        assert max((wa[k] - wb[k]).abs().max().item() for k in wa) <= 1e-5
    worst = max(abs(x["loss"] - y["loss"]) for x, y in zip(a, b, strict=True))
    print(
        f"killed after {killed_at} logged steps; resumed from {latest}; largest loss difference {worst:.2e}"
    )

    # The EMA export of a run trained with ema.
    export_checkpoint(tmp_path / "b", tmp_path / "ema.safetensors", weights="ema")
    assert (
        read_state_dict(tmp_path / "ema.safetensors").keys()
        == read_state_dict(final_b / "model.safetensors").keys()
    )


def test_two_processes_train_together(tmp_path, data, base):
    settings = write_settings(
        tmp_path / "ddp.yaml", tiny_settings(data, tmp_path / "run", base, max_steps=2, checkpoint_every=2)
    )
    launch = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", "29533", "-m", "mimicmotion", "train", "--config", str(settings),
    ]  # fmt: skip
    subprocess.run(launch, env=environment(), check=True, timeout=400)

    records = metrics(tmp_path / "run")
    assert [r["step"] for r in records] == [1, 2]
    for r in records:
        first, second = r["loss_per_process"]
        assert first != second and all(map(torch.isfinite, torch.tensor([first, second])))
        assert r["loss"] == pytest.approx((first + second) / 2)
    # Step 1 (learning rate 0 in the warm-up) ran the initial weights: process r trained on sample r.
    expected = clip_losses_of(base, data, None, [0, 1])
    torch.testing.assert_close(torch.tensor(records[0]["loss_per_process"]), expected, rtol=1e-4, atol=1e-6)
    (checkpoint,) = list_checkpoints(tmp_path / "run")
    assert checkpoint.name == "step-00000002"
    assert {p.name for p in checkpoint.glob("random_states_*.pkl")} == {
        "random_states_0.pkl",
        "random_states_1.pkl",
    }
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    assert state["num_processes"] == 2 and state["samples"] == 4
    split_checkpoint(read_state_dict(checkpoint / "model.safetensors"), checkpoint)


# --------------------------------------------------------------------------------------- bad input


def test_cli_training_errors_exit_with_code_2(tmp_path, data, base, trained_run, capsys):
    def fails(args, message):
        assert main(args) == 2
        assert message in capsys.readouterr().err

    good = tiny_settings(data, tmp_path / "new", base)
    fails(["train", "--resume", str(tmp_path / "nope")], "run not found")
    (tmp_path / "empty_run").mkdir()
    (tmp_path / "empty_run" / "config.yaml").write_text("{}\n")
    fails(["train", "--resume", str(tmp_path / "empty_run")], "no complete checkpoint")
    fails(["train", "--resume", str(trained_run), "--learning-rate", "1"], "cannot change learning_rate")
    config = write_settings(tmp_path / "c.yaml", good)
    fails(["train", "--resume", str(trained_run), "--config", str(config)], "do not pass --config")
    fails(["train", "--config", str(config), "--run-dir", str(trained_run)], "already holds a run")
    fails(["train", "--config", str(config), "--data", str(tmp_path / "nodata")], "prepared data not found")
    fails(
        ["train", "--config", str(config), "--base-model", str(tmp_path / "nobase")], "base model not found"
    )
    fails(["train", "--config", str(config), "--height", "40"], "multiple of 16")
    if importlib.util.find_spec("bitsandbytes") is None:
        fails(
            ["train", "--config", str(config), "--run-dir", str(tmp_path / "r8"), "--use-8bit-adam"],
            "bitsandbytes",
        )

    fails(["export", str(tmp_path / "nope"), "--out", str(tmp_path / "x.pth")], "run not found")
    fails(["export", str(trained_run), "--out", str(tmp_path / "x.bin")], ".safetensors or .pth")
    fails(["export", str(trained_run), "--out", str(tmp_path / "x.pth"), "--weights", "ema"], "without ema")


def test_export_refuses_foreign_weights(tmp_path, trained_run):
    import shutil

    from safetensors.torch import save_file

    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    checkpoint = list_checkpoints(copy)[-1]
    save_file({"something.else": torch.zeros(2)}, str(checkpoint / "model.safetensors"))
    with pytest.raises(MimicMotionError, match="not a MimicMotion checkpoint"):
        export_checkpoint(copy, tmp_path / "out.safetensors")
