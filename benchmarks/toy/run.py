"""Training, proven on a synthetic world: the whole recipe in one command.

    python benchmarks/toy/run.py [--out toy-run] [--smoke] [--seeds 2] [--dance VIDEO]
                                 [--arms main ...] [--vae-steps N] [--train-steps N]

1. the dance video's keypoints, detected once (MediaPipe; without the video the motions are all
   procedural);
2. the world (`toyworld.world`): training videos with their observed keypoints beside them, held-out
   test cases, long held-out cases;
3. `mimicmotion prepare-data` on the training videos, which takes the keypoints shipped with them;
4. the toy VAE trained on synthetic frames (`toyworld.vae`), and one base folder per seed (`toyworld.base`);
5. `mimicmotion train` + `mimicmotion export` for every arm and seed:
   main = hand weight 10, confidence-aware pose pictures (the paper's recipe);
   hand1 = hand weight 1; threshold = thresholded pose pictures (low-confidence points dropped);
6. every trained model animates the held-out cases, scored against the true frames and against their
   round trip through the toy VAE (what the VAE alone keeps of them); the main models also animate
   them with their PoseNet output zeroed, and the long cases with each fusion;
7. tables (printed, and in OUT/results.md), OUT/results.json, a picture of a few frames
   (ground truth | generated | pose picture) and Y-T slices of the fusions.

Each stage keeps its output and is skipped when rerun, so an interrupted recipe continues where it
stopped. `--smoke` runs the same code on a world, models and budgets small enough for CI (minutes); it
proves the path works, not that the model learns.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import yaml
from toyworld import report
from toyworld.world import WorldSize, load_case, write_test_cases, write_training_videos

ROOT = Path(__file__).resolve().parents[2]
DANCE = ROOT.parent / "shared" / "data" / "dance_1080x1920_24fps.mp4"
FUSIONS = ("progressive", "official", "average")


@dataclass(frozen=True)
class Budget:
    vae_steps: int = 1200
    train_steps: int = 700
    learning_rate: float = 1e-3
    eval_steps: int = 15


@dataclass(frozen=True)
class Arm:
    name: str
    hand_weight: float
    render_style: str
    what: str


ARMS = (
    Arm("main", 10.0, "confidence", "hand weight 10, confidence-aware pose pictures (the paper)"),
    Arm("hand1", 1.0, "confidence", "hand weight 1 (no hand-region enhancement)"),
    Arm("threshold", 10.0, "threshold", "thresholded pose pictures (points below 0.3 dropped)"),
)
SMOKE_SIZE = WorldSize(train_videos=4, train_identities=2, train_frames=20, test_cases=2, test_frames=9,
                       long_cases=1, long_frames=17)  # fmt: skip
SMOKE_BUDGET = Budget(vae_steps=4, train_steps=3, eval_steps=2)


def mimicmotion(*args: str) -> None:
    """Run a mimicmotion command as a user would, in its own process."""
    command = [sys.executable, "-m", "mimicmotion", *args]
    print("$ mimicmotion " + " ".join(args), flush=True)
    subprocess.run(command, check=True)


def dance_poses(out: Path, video: Path):
    from mimicmotion.pose import PoseSequence

    path = out / "dance.npz"
    if not path.exists():
        if not video.is_file():
            print(f"no dance video at {video}: every motion is procedural", flush=True)
            return None
        mimicmotion("pose", "--driving", str(video), "--out", str(path), "--stride", "1",
                    "--pose-backend", "mediapipe", "--quiet")  # fmt: skip
    return PoseSequence.load(path)


def make_bases(out: Path, size: WorldSize, budget: Budget, seeds: list[int]) -> dict[int, Path]:
    from diffusers import AutoencoderKLTemporalDecoder
    from toyworld import base, vae

    vae_dir = out / "vae"
    if not (vae_dir / "config.json").exists():
        started = time.perf_counter()
        model, log = vae.train_vae(size.height, size.width, budget.vae_steps, seed=0)
        quality = vae.reconstruction_psnr(model, size.height, size.width, seed=0)
        model.save_pretrained(vae_dir)
        minutes = (time.perf_counter() - started) / 60
        (out / "vae.json").write_text(json.dumps({"log": log, "psnr": quality, "minutes": minutes}))
    trained = AutoencoderKLTemporalDecoder.from_pretrained(vae_dir)
    bases = {}
    for seed in seeds:
        folder = out / f"base-seed{seed}"
        if not (folder / "model_index.json").exists():
            base.save_base(folder, trained, seed)
        bases[seed] = folder
    return bases


def train_arm(out: Path, arm: Arm, seed: int, base: Path, size: WorldSize, budget: Budget) -> Path:
    """Train one arm with one seed; the exported checkpoint."""
    run = out / "runs" / f"{arm.name}-seed{seed}"
    exported = run / "model.safetensors"
    if exported.exists():
        return exported
    settings = {
        "data": str(out / "prepared"),
        "run_dir": str(run),
        "base_model": str(base),
        "height": size.height,
        "width": size.width,
        "num_frames": 8,
        "max_frame_interval": 2,
        "render_style": arm.render_style,
        "hand_weight": arm.hand_weight,
        "num_workers": 1,
        "learning_rate": budget.learning_rate,
        "warmup_steps": min(100, budget.train_steps // 10),
        "lr_schedule": "cosine_with_warmup",
        "max_steps": budget.train_steps,
        "mixed_precision": "no",
        "gradient_checkpointing": False,
        "seed": seed,
        "checkpoint_every": budget.train_steps,
        "keep_checkpoints": 1,
        "validate_every": 0,
    }
    config = out / "runs" / f"{arm.name}-seed{seed}.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump(settings))
    if run.exists():  # an interrupted run: start it again from its last checkpoint, if any
        mimicmotion("train", "--resume", str(run))
    else:
        mimicmotion("train", "--config", str(config))
    mimicmotion("export", str(run), "--out", str(exported), "--dtype", "float32")
    return exported


def evaluate_arm(
    out: Path, arm: Arm, seed: int, base: Path, checkpoint: Path, budget: Budget, size, main: bool
):
    """Scores of one trained model on every test case, against the true frames and against their VAE
    round trip; for the `main` arm also of the same model with PoseNet zeroed (the baseline), and of the
    long cases under each fusion. Cached in the run folder."""
    import torch
    from toyworld import measure

    from mimicmotion.pipeline import MimicMotionPipeline

    path = checkpoint.parent / "scores.json"
    if path.exists():
        return json.loads(path.read_text())
    torch.manual_seed(0)
    pipe = MimicMotionPipeline.from_pretrained(
        str(base), checkpoint=str(checkpoint), torch_dtype=torch.float32
    )
    videos = checkpoint.parent / "videos"
    videos.mkdir(exist_ok=True)
    settings = measure.evaluation_settings(videos / "video.mp4", arm.render_style, 8, budget.eval_steps, seed)
    result: dict = {"model": {}, "pose_zeroed": {}, "fusion": {f: {} for f in FUSIONS}}
    for case_path in sorted((out / "world" / "test").glob("*.npz")):
        case = load_case(case_path)
        vae_case = measure.through_vae(pipe.vae, case)
        generated = measure.generate(pipe, case, settings, size)
        np.save(videos / f"{case.name}.npy", generated.frames)
        result["model"][case.name] = measure.both_truths(generated, case, vae_case)
        if main:
            zeroed = measure.generate(pipe, case, measure.replace(settings, pose_strength=0.0), size)
            result["pose_zeroed"][case.name] = measure.both_truths(zeroed, case, vae_case)
    if main:
        for case_path in sorted((out / "world" / "long").glob("*.npz")):
            case = load_case(case_path)
            for fusion in FUSIONS:
                generated = measure.generate(pipe, case, measure.with_fusion(settings, fusion), size)
                np.save(videos / f"{case.name}-{fusion}.npy", generated.frames)
                result["fusion"][fusion][case.name] = measure.scores(generated, case)
    path.write_text(json.dumps(result, indent=1))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("toy-run"), help="where everything goes")
    parser.add_argument("--smoke", action="store_true", help="CI-sized: the same path in a few minutes")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per arm")
    parser.add_argument("--dance", type=Path, default=DANCE, help="video whose dance the motions vary")
    parser.add_argument("--arms", nargs="+", default=[a.name for a in ARMS], choices=[a.name for a in ARMS])
    parser.add_argument("--vae-steps", type=int, help=f"VAE training steps (default {Budget.vae_steps})")
    parser.add_argument("--train-steps", type=int, help=f"steps per arm, seed (default {Budget.train_steps})")
    args = parser.parse_args()
    size, budget = (SMOKE_SIZE, SMOKE_BUDGET) if args.smoke else (WorldSize(), Budget())
    budget = replace(
        budget,
        vae_steps=args.vae_steps or budget.vae_steps,
        train_steps=args.train_steps or budget.train_steps,
    )
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(json.dumps({"size": asdict(size), "budget": asdict(budget)}, indent=1))
    started = time.perf_counter()
    seeds = list(range(args.seeds))

    dance = dance_poses(out, args.dance)
    videos = write_training_videos(out / "world", size, dance, seed=0)
    write_test_cases(out / "world" / "test", size, dance, seed=0, kind="test")
    write_test_cases(out / "world" / "long", size, dance, seed=0, kind="long")
    if not (out / "prepared" / "report.json").exists():
        mimicmotion("prepare-data", "--videos", str(videos), "--out", str(out / "prepared"), "--workers", "1")
    bases = make_bases(out, size, budget, seeds)
    timings = {}
    results = {}
    for arm in (a for a in ARMS if a.name in args.arms):
        for seed in seeds:
            arm_started = time.perf_counter()
            checkpoint = train_arm(out, arm, seed, bases[seed], size, budget)
            timings[f"{arm.name}-seed{seed}-train"] = time.perf_counter() - arm_started
            results[(arm.name, seed)] = evaluate_arm(
                out, arm, seed, bases[seed], checkpoint, budget, size, main=arm.name == "main"
            )
    baseline = report.repeated_reference_scores(out)
    text = report.write(out, ARMS, results, baseline, time.perf_counter() - started)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
