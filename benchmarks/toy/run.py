"""Training, proven on a synthetic world: the whole recipe in one command.

    python benchmarks/toy/run.py [--out toy-run] [--smoke] [--seeds 2] [--jobs 2] [--dance VIDEO]
                                 [--arms main ...] [--vae-steps N] [--train-steps N] [--clip-frames N]
                                 [--device auto|cpu|cuda]

1. the dance video's keypoints, detected once (MediaPipe; without the video the motions are all
   procedural);
2. the world (`toyworld.world`): training videos with their observed keypoints beside them, held-out
   test cases, long held-out cases;
3. `mimicmotion prepare-data` on the training videos, which takes the keypoints shipped with them;
4. the toy VAE trained on synthetic frames (`toyworld.vae`), and one base folder per seed (`toyworld.base`);
5. `mimicmotion train` (from latents cached once for all runs) + `mimicmotion export` for every arm and
   seed, `--jobs` of them at once, each on its share of the CPU threads (its log in OUT/runs/):
   main = hand weight 10, confidence-aware pose pictures (the paper's recipe);
   hand1 = hand weight 1; threshold = thresholded pose pictures (low-confidence points dropped);
6. every trained model animates the held-out cases, scored against the true frames and against their
   round trip through the toy VAE (what the VAE alone keeps of them); the main models also animate
   them with their PoseNet output zeroed, and the long cases with each fusion;
7. tables (printed, and in OUT/results.md), OUT/results.json, a picture of a few frames
   (ground truth | generated | pose picture) and Y-T slices of the fusions.

Stage times are printed with the tables. Each stage keeps its output and is skipped when rerun, so an
interrupted recipe continues where it stopped. `--smoke` runs the same code on a world, models and budgets
small enough for CI (minutes); it proves the path works, not that the model learns.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
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
    # The most that keeps the whole recipe within 2 hours on a 2-core CPU; SSIM still rises with steps
    train_steps: int = 4400
    learning_rate: float = 1e-3
    # log(sigma) ~ N(p_mean, 1.4^2): with the paper's 0.5, PoseNet was still unused after 700 steps here; with
    # 1.0 (more of the high noise levels, where the figure's placement is decided) it was used by 2,000
    p_mean: float = 1.0
    eval_steps: int = 15
    # Frames per training clip, and the window size held-out videos are generated with (2 frames overlap).
    # A 4-frame step costs 0.6 of an 8-frame one here; 3,200 steps of 4 frames beat 1,600 of 8 (README)
    clip_frames: int = 4


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


def mimicmotion(*args: str, log: Path | None = None, threads: int | None = None) -> None:
    """Run a mimicmotion command as a user would, in its own process (its output appended to `log`)."""
    command = [sys.executable, "-m", "mimicmotion", *args]
    env = os.environ | ({"OMP_NUM_THREADS": str(threads)} if threads else {})
    if log is None:
        print("$ mimicmotion " + " ".join(args), flush=True)
        subprocess.run(command, check=True, env=env)
        return
    with log.open("a") as file:
        file.write("$ mimicmotion " + " ".join(args) + "\n")
        file.flush()
        failed = subprocess.run(command, stdout=file, stderr=subprocess.STDOUT, env=env).returncode
    if failed:
        tail = "\n".join(log.read_text(errors="replace").replace("\r", "\n").splitlines()[-30:])
        raise RuntimeError(f"mimicmotion {args[0]} failed (log: {log}):\n{tail}")


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


def make_bases(out: Path, size: WorldSize, budget: Budget, seeds: list[int], device: str) -> dict[int, Path]:
    from diffusers import AutoencoderKLTemporalDecoder
    from toyworld import base, vae

    vae_dir = out / "vae"
    if not (vae_dir / "config.json").exists():
        started = time.perf_counter()
        model, log = vae.train_vae(size.height, size.width, budget.vae_steps, seed=0, device=device)
        quality = vae.reconstruction_psnr(model, size.height, size.width, seed=0)
        model.cpu().save_pretrained(vae_dir)
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


@dataclass(frozen=True)
class Recipe:
    """What every arm and seed shares: the output folder, the world's size, the budget, and where it runs
    (`device`; on the CPU, `threads` threads per job)."""

    out: Path
    size: WorldSize
    budget: Budget
    device: str
    threads: int


def train_arm(recipe: Recipe, arm: Arm, seed: int, base: Path) -> Path:
    """Train one arm with one seed; the exported checkpoint."""
    out, size, budget, threads = recipe.out, recipe.size, recipe.budget, recipe.threads
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
        "num_frames": budget.clip_frames,
        "max_frame_interval": 2,
        "render_style": arm.render_style,
        "hand_weight": arm.hand_weight,
        "num_workers": 1,
        "cache_latents": True,
        "p_mean": budget.p_mean,
        "learning_rate": budget.learning_rate,
        "warmup_steps": min(100, budget.train_steps // 10),
        "lr_schedule": "cosine_with_warmup",
        "max_steps": budget.train_steps,
        "mixed_precision": "no",
        "gradient_checkpointing": False,
        "seed": seed,
        "checkpoint_every": max(1, budget.train_steps // 4),  # an interrupted run resumes
        "keep_checkpoints": 1,
        "validate_every": 0,
    }
    config = out / "runs" / f"{arm.name}-seed{seed}.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    if config.exists() and yaml.safe_load(config.read_text()) != settings:
        raise RuntimeError(f"{run} was trained with other settings than these ({config}): use another --out")
    config.write_text(yaml.safe_dump(settings))
    log = run.with_suffix(".log")
    if run.exists():  # an interrupted run: start it again from its last checkpoint, if any
        mimicmotion("train", "--resume", str(run), log=log, threads=threads)
    else:
        mimicmotion("train", "--config", str(config), log=log, threads=threads)
    mimicmotion("export", str(run), "--out", str(exported), "--dtype", "float32", log=log, threads=threads)
    return exported


def evaluate_arm(recipe: Recipe, arm: Arm, seed: int, base: Path, checkpoint: Path):
    """Scores of one trained model on every test case, against the true frames and against their VAE
    round trip; for the `main` arm also of the same model with PoseNet zeroed (the baseline), and of the
    long cases under each fusion. Cached in the run folder."""
    import torch
    from toyworld import measure

    from mimicmotion.animate import load_pipeline

    out, size, main = recipe.out, recipe.size, arm.name == "main"
    path = checkpoint.parent / "scores.json"
    if path.exists():
        return json.loads(path.read_text())
    torch.manual_seed(0)
    videos = checkpoint.parent / "videos"
    videos.mkdir(exist_ok=True)
    settings = measure.evaluation_settings(
        videos / "video.mp4",
        (base, checkpoint),
        recipe.device,
        arm.render_style,
        recipe.budget.clip_frames,
        recipe.budget.eval_steps,
        seed,
    )
    pipe = load_pipeline(settings)
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


def arm_job(recipe: Recipe, arm: Arm, seed: int, base: Path):
    """Train, export and score one arm and seed (in a worker process): (scores, minutes per stage)."""
    import torch

    torch.set_num_threads(recipe.threads)
    started = time.perf_counter()
    checkpoint = train_arm(recipe, arm, seed, base)
    trained = time.perf_counter()
    scores = evaluate_arm(recipe, arm, seed, base, checkpoint)
    minutes = {"train": (trained - started) / 60, "evaluate": (time.perf_counter() - trained) / 60}
    print(f"{arm.name}-seed{seed}: trained in {minutes['train']:.1f} min, scored in "
          f"{minutes['evaluate']:.1f} min", flush=True)  # fmt: skip
    return scores, minutes


def cache_latents(out: Path, base: Path, size: WorldSize, device: str) -> None:
    """Encode the training frames once for every run (they share the VAE), before they start."""
    from mimicmotion.pipeline import MimicMotionPipeline
    from mimicmotion.train.dataset import load_prepared
    from mimicmotion.train.latents import build_cache

    vae = MimicMotionPipeline.from_pretrained(str(base), checkpoint=None).vae.to(device)
    build_cache(load_prepared(out / "prepared"), vae, size.height, size.width)


def on_device(asked: str, parser: argparse.ArgumentParser) -> str:
    """The device every stage runs on. Training runs in `mimicmotion train`, whose accelerate takes CUDA
    whenever it sees it, so for the CPU the GPUs are hidden from every process the recipe starts."""
    import torch

    if asked == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA GPU is available here")
    if asked == "cpu" or not torch.cuda.is_available():
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        return "cpu"
    return "cuda"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("toy-run"), help="where everything goes")
    parser.add_argument("--smoke", action="store_true", help="CI-sized: the same path in a few minutes")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per arm")
    parser.add_argument("--jobs", type=int, default=2, help="arms and seeds trained and scored at once")
    parser.add_argument("--dance", type=Path, default=DANCE, help="video whose dance the motions vary")
    parser.add_argument("--arms", nargs="+", default=[a.name for a in ARMS], choices=[a.name for a in ARMS])
    parser.add_argument("--vae-steps", type=int, help=f"VAE training steps (default {Budget.vae_steps})")
    parser.add_argument("--train-steps", type=int, help=f"steps per arm, seed (default {Budget.train_steps})")
    parser.add_argument("--clip-frames", type=int, help=f"frames per training clip and generated window "
                        f"(default {Budget.clip_frames})")  # fmt: skip
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where models are trained and scored (auto: CUDA when available)")  # fmt: skip
    args = parser.parse_args()
    if args.jobs < 1 or args.seeds < 1:
        parser.error("--jobs and --seeds must be at least 1")
    if args.clip_frames is not None and args.clip_frames < 3:
        parser.error("--clip-frames must be at least 3 (generated windows overlap by 2 frames)")
    device = on_device(args.device, parser)
    size, budget = (SMOKE_SIZE, SMOKE_BUDGET) if args.smoke else (WorldSize(), Budget())
    budget = replace(
        budget,
        vae_steps=args.vae_steps or budget.vae_steps,
        train_steps=args.train_steps or budget.train_steps,
        clip_frames=args.clip_frames or budget.clip_frames,
    )
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(json.dumps({"size": asdict(size), "budget": asdict(budget)}, indent=1))
    started = time.perf_counter()
    seeds = list(range(args.seeds))
    stages, job_minutes = {}, {}  # minutes

    def stage(name: str, since: float) -> float:
        now = time.perf_counter()
        stages[name] = (now - since) / 60
        return now

    dance = dance_poses(out, args.dance)
    videos = write_training_videos(out / "world", size, dance, seed=0)
    write_test_cases(out / "world" / "test", size, dance, seed=0, kind="test")
    write_test_cases(out / "world" / "long", size, dance, seed=0, kind="long")
    if not (out / "prepared" / "report.json").exists():
        mimicmotion("prepare-data", "--videos", str(videos), "--out", str(out / "prepared"), "--workers", "1")
    now = stage("world and data", started)
    bases = make_bases(out, size, budget, seeds, device)
    now = stage("VAE", now)
    cache_latents(out, bases[seeds[0]], size, device)
    now = stage("latent cache", now)

    jobs = [(arm, seed) for arm in ARMS if arm.name in args.arms for seed in seeds]
    recipe = Recipe(out, size, budget, device, threads=max(1, (os.cpu_count() or 1) // args.jobs))
    results = {}
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {
            pool.submit(arm_job, recipe, arm, seed, bases[seed]): f"{arm.name}-seed{seed}"
            for arm, seed in jobs
        }
        for future in as_completed(futures):
            name = futures[future]
            try:
                results[name], job_minutes[name] = future.result()
            except Exception:
                print(f"{name} failed; finished runs keep their results: rerun to go on", flush=True)
                pool.shutdown(cancel_futures=True)
                raise
    results = {(arm.name, seed): results[f"{arm.name}-seed{seed}"] for arm, seed in jobs}
    now = stage("training and scoring", now)
    baseline = report.repeated_reference_scores(out)
    stage("tables", now)
    text = report.write(out, ARMS, results, baseline, stages, job_minutes)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
