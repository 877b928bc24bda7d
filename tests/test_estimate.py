"""The cost of a run, said before it is paid: the arithmetic, the measurement, and what `animate` does
with it (--dry-run, the question before a long run, --yes)."""

import dataclasses
import io
import sys

import pytest
import torch

from mimicmotion import estimate as costs
from mimicmotion.cli import main
from mimicmotion.commands import animate as command
from mimicmotion.config import EXAMPLE_POSES, EXAMPLE_REF, AnimateSettings
from mimicmotion.estimate import Estimate, Measurement, RunPlan, extrapolate, measure, run_plan
from mimicmotion.generation import driving_frame_count, pose_inputs
from mimicmotion.pose_features import HOST_BUDGET
from mimicmotion.units import format_duration, format_size

FAST = ["--resolution", "128", "--steps", "1", "--tile-size", "8", "--tile-overlap", "2"]


def plan(**changes):
    values = dict(device="cpu", dtype="fp32", frames=19, height=64, width=32, windows=3, window_frames=8,
                  steps=10, guided_steps=10, latent_frame_bytes=1000)  # fmt: skip
    return RunPlan(**{**values, **changes})


MEASURED = Measurement(
    pose_seconds=0.5, unet_seconds=2.0, decode_seconds=4.0, decode_frames=8, peak_bytes=10**9, memory="RAM"
)


def test_extrapolation_of_a_measured_window():
    guided = extrapolate(plan(), MEASURED)
    # 10 steps x 3 windows: PoseNet once per window (its features kept), the first window twice (its first
    # features come before the first pass): 4 x 0.5 s; unet 60 passes x 2 s; 20 frames decoded at 4 s per 8
    assert guided.seconds == pytest.approx(2 + 120 + 10)
    # the whole video's latents: latents, scaled input, and a running sum and its zeros per prediction
    assert guided.peak_bytes == 10**9 + 6 * 20 * 1000
    unguided = extrapolate(plan(guided_steps=0), MEASURED)
    assert unguided.seconds == pytest.approx(2 + 60 + 10)
    assert unguided.peak_bytes == 10**9 + 4 * 20 * 1000


def test_pose_features_beyond_the_host_budget_are_recomputed_at_every_step():
    # one window's features fill the budget: the second window's are kept (the first's come before any
    # pass), the two others computed at each of the 10 steps
    big = dataclasses.replace(MEASURED, pose_bytes=HOST_BUDGET)
    assert extrapolate(plan(), big).seconds == pytest.approx(21 * 0.5 + 120 + 10)
    # on a GPU the features are taken to fit
    assert extrapolate(plan(device="cuda:0"), big).seconds == pytest.approx(2 + 120 + 10)


def test_cfg_batch_counts_one_call_per_guided_window_step():
    # 4 steps, the first 3 guided: 3 x 3 windows calls of both passes at 3 s, 3 single passes at 2 s
    paired = dataclasses.replace(MEASURED, pair_seconds=3.0)
    estimate = extrapolate(plan(steps=4, guided_steps=3, cfg_batch=True), paired)
    assert estimate.seconds == pytest.approx(2 + 9 * 3.0 + 3 * 2.0 + 10)
    assert "(guidance, in one call: --cfg-batch)" not in estimate.line()  # not every step is guided
    line = extrapolate(plan(cfg_batch=True), paired).line()
    assert "2 unet passes (guidance, in one call: --cfg-batch)" in line
    assert "one measured call: 3 s per unet call of 2 passes" in line


def test_compile_time_is_said_apart_and_not_counted():
    compiled = dataclasses.replace(MEASURED, compile_seconds=65.0)
    estimate = extrapolate(plan(compiled=True), compiled)
    assert estimate.seconds == extrapolate(plan(), MEASURED).seconds
    assert "compiling took 1 min, paid once and not counted" in estimate.line()


def test_the_plan_line_says_what_runs_and_that_it_is_extrapolated():
    line = extrapolate(plan(), MEASURED).line()
    assert line.startswith(
        "plan: cpu fp32, 19 frames at 32x64, 3 windows of 8 frames, 10 steps x 2 unet passes (guidance)"
    )
    assert "about 2 min and 1.0 GB peak RAM" in line
    assert "(extrapolated from one measured pass: 2 s per unet pass, 4 s to decode 8 frames)" in line
    assert "1 window of" in extrapolate(plan(windows=1), MEASURED).line()


def test_a_long_cpu_run_says_how_to_go_faster():
    slow = Measurement(0.0, 60.0, 10.0, 8, 10**10, "RAM")
    advice = extrapolate(plan(), slow).advice()
    assert "about 1 h 0 min" not in advice and "about 1 h" in advice  # 60 passes of a minute
    for hint in ("--device cuda", "--steps, now 10", "--max-frames N, now 19", "--resolution (now 32)"):
        assert hint in advice
    assert extrapolate(plan(device="cuda:0"), slow).advice() is None  # the advice is for the CPU
    assert extrapolate(plan(), MEASURED).advice() is None  # two minutes need no advice


@pytest.mark.parametrize(
    "seconds, text",
    [(0.2, "under 1 s"), (42.4, "42 s"), (89, "1 min"), (12 * 60, "12 min"), (3599.9, "1 h"),
     (3 * 3600 + 20 * 60, "3 h 20 min")],
)  # fmt: skip
def test_durations_for_people(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    "size, text",
    [(512, "512 bytes"), (232_668, "233 KB"), (1_560_000, "1.6 MB"), (15_400_000, "15 MB"),
     (3_050_000_000, "3.0 GB"), (2_000_000_000_000, "2.0 TB")],
)  # fmt: skip
def test_sizes_for_people(size, text):
    assert format_size(size) == text


def test_the_plan_follows_the_settings(tiny_pipe):
    s = AnimateSettings(tile_size=8, tile_overlap=2, steps=3)
    p = run_plan(tiny_pipe, s, frames=12, size=(32, 48))
    # 13 frames: [0..7], [0, 6..12]
    assert (p.windows, p.window_frames, p.steps, p.guided_steps) == (2, 8, 3, 3)
    assert (p.device, p.dtype, p.latent_frame_bytes) == ("cpu", "fp32", 4 * 4 * 6 * 4)
    assert run_plan(tiny_pipe, s.replace(min_guidance=1.0, max_guidance=1.0), 12, (32, 48)).guided_steps == 0
    assert run_plan(tiny_pipe, s.replace(sigmas=("ays",)), 12, (32, 48)).steps == 10  # one step per level


def test_cfg_until_counts_the_unconditional_passes_it_saves(tiny_pipe):
    # 4 steps at progress 0, 0.25, 0.5, 0.75: guidance on the first three with P = 0.5
    s = AnimateSettings(tile_size=8, tile_overlap=2, steps=4, cfg_until=0.5)
    p = run_plan(tiny_pipe, s, frames=12, size=(32, 48))
    assert p.guided_steps == 3 and p.unet_passes == (4 + 3) * 2
    assert "--cfg-until: 14 passes instead of 16" in extrapolate(p, MEASURED).line()
    assert run_plan(tiny_pipe, s.replace(cfg_until=0.0), 12, (32, 48)).guided_steps == 1  # the first step


@pytest.mark.parametrize(
    "frames, overlap, decoded",
    [
        (19, 0, 20),
        (7, 3, 8),
        (19, 2, 24),
        (20, 4, 21 + 4 * 4),
        (19, (4, 2), 20 + 8 * 2),
        (19, (4, 0), 20),
    ],  # 20 frames, chunks at 0, 6, 12; 21: 0, 4, .., 16; chunks of 4 sharing 2: at 0, 2, .., 16
)
def test_overlapping_decoding_chunks_decode_their_shared_frames_twice(frames, overlap, decoded):
    chunk, overlap = overlap if isinstance(overlap, tuple) else (8, overlap)
    assert plan(frames=frames, decode_overlap=overlap, decode_chunk=chunk).decoded_frames == decoded


def test_measuring_changes_nothing_the_sampler_computes(tiny_pipe):
    generator = torch.Generator().manual_seed(0)
    image, pose = torch.rand(1, 3, 32, 48, generator=generator), torch.rand(9, 3, 32, 48, generator=generator)

    def sample():
        return tiny_pipe(image, pose * 2 - 1, tile_size=4, tile_overlap=2, num_inference_steps=2,
                         generator=torch.Generator().manual_seed(7), output_type="latent").frames  # fmt: skip

    before = sample()
    global_rng = torch.get_rng_state()
    p = run_plan(tiny_pipe, AnimateSettings(tile_size=4, tile_overlap=2, steps=2), 8, (32, 48))
    measured = measure(tiny_pipe, p)
    assert torch.equal(torch.get_rng_state(), global_rng)
    assert torch.equal(sample(), before)
    assert measured.unet_seconds > 0 and measured.decode_frames == 8 and measured.peak_bytes > 10**6


@pytest.mark.parametrize("stride, max_frames", [(2, None), (3, None), (1, 7)])
@pytest.mark.usefixtures("mediapipe")
def test_the_frame_count_is_known_before_any_frame_is_detected(
    tmp_path, monkeypatch, shared_data, stride, max_frames
):
    monkeypatch.setenv("MIMICMOTION_CACHE", str(tmp_path / "cache"))
    driving = shared_data / "dance_576x1024_19f.gif"  # 19 frames
    s = AnimateSettings(ref=EXAMPLE_REF, driving=driving, out=tmp_path / "out.mp4", resolution=128,
                        stride=stride, max_frames=max_frames, quiet=True)  # fmt: skip
    inputs = pose_inputs(s)
    with inputs.pose_frames:
        assert driving_frame_count(s) == len(inputs.poses) - 1 == {2: 10, 3: 7, 1: 7}[stride]
    poses = tmp_path / "poses.npz"
    inputs.poses.save(poses)  # a pose file holds the reference too: one frame more
    assert driving_frame_count(s.replace(driving=poses, max_frames=None)) == len(inputs.poses)
    assert driving_frame_count(s.replace(driving=poses, max_frames=3)) == 3


# ------------------------------------------------------------------------------------ the command


@pytest.fixture
def weights(tiny_weights):
    base, checkpoint = tiny_weights
    return ["--base-model", str(base), "--checkpoint", str(checkpoint)]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty working folder; the pose cache beside it, to show that nothing was cached either."""
    monkeypatch.setenv("MIMICMOTION_CACHE", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.mark.usefixtures("mediapipe")
def test_dry_run_says_the_plan_and_writes_nothing(weights, folder, tmp_path, capsys):
    assert main(["animate", "--example", "--dry-run", *weights, *FAST]) == 0
    said = capsys.readouterr().out
    # the 24 poses and the reference: windows start at 0, 6, 12, and one more ends on the last frame
    assert "plan: cpu fp32, 24 frames at 128x192, 4 windows of 8 frames, 1 step x 2 unet passes" in said
    # the planner's estimates of every mode, for this run's size and the weights' architecture
    assert "size: 192x128 (height x width), 8 frames per window, 24 frames in 4 window(s), 1 step," in said
    assert "dtype: fp32; GPU: none (no times)" in said
    assert any(
        line.split("  ")[0].strip() == "--offload sequential --forward-chunking" for line in said.splitlines()
    )
    assert "wrote" not in said
    assert list(folder.iterdir()) == [] and not (tmp_path / "cache").exists()


@pytest.mark.usefixtures("mediapipe")
def test_dry_run_of_a_config_creates_no_output_folder(weights, folder, capsys):
    config = folder.parent / "test.yaml"
    case = {"ref_image_path": str(EXAMPLE_REF), "ref_video_path": str(EXAMPLE_POSES)}
    config.write_text(f"test_case:\n  - {case}\n")
    assert main(["animate", "--config", str(config), "--dry-run", "--max-frames", "2", *weights, *FAST]) == 0
    assert "plan: cpu fp32, 2 frames" in capsys.readouterr().out
    assert list(folder.iterdir()) == []  # not even outputs/


@pytest.mark.usefixtures("mediapipe")
def test_a_declined_run_stops_with_one_line_and_writes_nothing(
    weights, folder, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(costs, "ASK_ABOVE_SECONDS", 0)  # every run is "long"
    monkeypatch.setattr(command, "interactive", lambda: True)
    questions = []
    monkeypatch.setattr("builtins.input", lambda prompt: questions.append(prompt) or "n")
    assert main(["animate", "--example", "--max-frames", "2", "--quiet", *weights, *FAST]) == 1
    assert len(questions) == 1 and questions[0].startswith("This run is expected to take about")
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("mimicmotion animate: not started (expected to take")
    assert list(folder.iterdir()) == [] and not (tmp_path / "cache").exists()


def fake_estimate(seconds):
    return Estimate(plan(), MEASURED, seconds, 0)


def never_ask(prompt):
    raise AssertionError("asked a question")


def test_the_question_is_asked_only_of_someone_at_a_terminal_before_a_long_run(monkeypatch):
    long, short = fake_estimate(2 * 3600), fake_estimate(59 * 60)
    monkeypatch.setattr("builtins.input", never_ask)
    monkeypatch.setattr(command, "interactive", lambda: False)
    assert command.ask(long, yes=False)  # no terminal: never waits
    monkeypatch.setattr(command, "interactive", lambda: True)
    assert command.ask(short, yes=False)
    assert command.ask(long, yes=True)  # --yes answers
    for answer, goes_on in (("y", True), (" YES\n", True), ("", False), ("no", False)):
        monkeypatch.setattr("builtins.input", lambda prompt, answer=answer: answer)
        if goes_on:
            assert command.ask(long, yes=False)
        else:
            with pytest.raises(command.Declined, match="about 2 h"):
                command.ask(long, yes=False)

    def closed(prompt):
        raise EOFError

    monkeypatch.setattr("builtins.input", closed)
    with pytest.raises(command.Declined):
        command.ask(long, yes=False)


class Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


@pytest.mark.parametrize(
    "stdin, stdout, expected", [(True, True, True), (True, False, False), (False, True, False)]
)
def test_interactive_means_both_ends_are_terminals(monkeypatch, stdin, stdout, expected):
    monkeypatch.setattr(sys, "stdin", Stream(stdin))
    monkeypatch.setattr(sys, "stdout", Stream(stdout))
    assert command.interactive() is expected
