"""Speed and peak memory of the pose tools on the dance clip: the first 48 frames vs all 288.

    python benchmarks/bench_pose.py [--data ../shared/data] [--backend mediapipe] [--repeat 1]

Two measurements, each run in a fresh Python process that reports its own wall time and peak resident
memory (ru_maxrss):
- `mimicmotion pose --driving dance_1080x1920_24fps.mp4 --ref ref_demo1.jpg --stride 1 --out ...
  --render ...`: keypoints of every frame, retargeted to the reference, saved, and rendered into a
  576 x 1024 H.264 pose video. Memory must not grow with the video: the 288-frame run should stay
  within 15% of the 48-frame one.
- `build_pose_frames` (what `mimicmotion animate` runs): extraction + rendering of the 576 x 1024 pose
  pictures into `PoseFrames`, no video encoding.
Prints figures; passes or fails nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
VIDEO, REFERENCE, TOTAL_FRAMES = "dance_1080x1920_24fps.mp4", "ref_demo1.jpg", 288


def child(args: list[str]) -> None:
    """Run the command (or build_pose_frames) here; print its wall time and this process's peak RSS."""
    start = time.perf_counter()
    if args[0] == "build_pose_frames":
        from mimicmotion.pose import build_pose_frames

        data, frames, backend = Path(args[1]), int(args[2]), args[3]
        _, pose_frames, _ = build_pose_frames(
            data / REFERENCE, data / VIDEO, stride=1, max_frames=frames, backend=backend, progress=False
        )
        pose_frames.close()
        code = 0
    else:
        from mimicmotion.cli import main

        code = main(args)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"code": code, "seconds": seconds, "peak_rss_mb": peak_kb / 1024}))


def measure(data: Path, frames: int, backend: str, workdir: Path, what: str = "cli") -> dict:
    if what == "build_pose_frames":
        return run_child(["build_pose_frames", str(data), str(frames), backend])
    return run_child([
        "pose",
        "--driving", str(data / VIDEO),
        "--ref", str(data / REFERENCE),
        "--out", str(workdir / f"poses_{frames}.npz"),
        "--render", str(workdir / f"poses_{frames}.mp4"),
        "--stride", "1",
        "--max-frames", str(frames),
        "--pose-backend", backend,
        "--quiet",
    ])  # fmt: skip


def run_child(child_args: list[str]) -> dict:
    command = [sys.executable, __file__, "--child", "--", *child_args]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory() as cache:  # an empty pose cache: every run detects
        env["MIMICMOTION_CACHE"] = cache
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"benchmark run failed:\n{result.stdout}\n{result.stderr}")
    report = json.loads(lines[-1])
    if report["code"] != 0:
        raise SystemExit(f"mimicmotion pose failed:\n{result.stderr}")
    return report


def best_of(runs: list[dict]) -> dict:
    """The fastest run's time with the largest run's memory."""
    best = dict(min(runs, key=lambda run: run["seconds"]))
    best["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--backend", default="mediapipe")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the fastest is reported")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        child([arg for arg in rest if arg != "--"])
        return
    if not (args.data / VIDEO).is_file():
        raise SystemExit(f"test media not found in {args.data}")

    print(f"backend {args.backend}, {os.cpu_count()} CPU cores, pose pictures 576x1024, --stride 1")
    print("mimicmotion pose --ref ... --render ... (detect, retarget, save, render, encode H.264):")
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for frames in (48, TOTAL_FRAMES):
            best = best_of(
                [measure(args.data, frames, args.backend, Path(workdir)) for _ in range(args.repeat)]
            )
            results[frames] = best
            poses = frames + 1  # the reference pose is rendered too
            print(
                f"  {frames:4d} frames: {best['seconds']:6.2f} s  {poses / best['seconds']:5.1f} frames/s "
                f"(whole command)  peak RSS {best['peak_rss_mb']:7.1f} MB"
            )
        short, full = results[48], results[TOTAL_FRAMES]
        steady = (TOTAL_FRAMES - 48) / (full["seconds"] - short["seconds"])
        growth = full["peak_rss_mb"] / short["peak_rss_mb"] - 1
        print(f"  steady rate (extra frames / extra time, start-up excluded): {steady:.1f} frames/s")
        print(f"  peak RSS growth from 48 to {TOTAL_FRAMES} frames: {100 * growth:+.1f}% (limit +15%)")
        print("build_pose_frames (detect, retarget, render into PoseFrames; what animate runs):")
        for frames in (48, TOTAL_FRAMES):
            runs = [measure(args.data, frames, args.backend, Path(workdir), "build_pose_frames")]
            runs += [measure(args.data, frames, args.backend, Path(workdir), "build_pose_frames")
                     for _ in range(args.repeat - 1)]  # fmt: skip
            best = best_of(runs)
            print(
                f"  {frames:4d} frames: {best['seconds']:6.2f} s  {(frames + 1) / best['seconds']:5.1f} "
                f"frames/s  peak RSS {best['peak_rss_mb']:7.1f} MB"
            )


if __name__ == "__main__":
    main()
