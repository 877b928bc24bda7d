"""Peak memory of `mimicmotion animate` against video length: the first 32 frames vs all 288.

    python benchmarks/bench_animate.py [--data ../shared/data] [--resolution 256] [--steps 1]
    python benchmarks/bench_animate.py --base-model FOLDER --checkpoint FILE   # real weights

Each run is a fresh Python process (`python -m mimicmotion animate ... --stride 1`) on the dance
clip; the parent reads the child's peak resident set size (ru_maxrss of RUSAGE_CHILDREN) and wall
time. Without weights it uses tiny random ones (tests/helpers), so the figures measure the
software around the model: decoding, pose detection, rendering, the sampler and the streamed
writing. Prints figures; passes or fails nothing.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIDEO, REFERENCE = "dance_1080x1920_24fps.mp4", "ref_demo1.jpg"


def run_animate(options: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one animate run in a child process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mimicmotion", "animate", *options, "--quiet"], check=True)
    seconds = time.perf_counter() - start
    # RUSAGE_CHILDREN holds the largest peak of all children waited for so far: run the big one last.
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--base-model")
    parser.add_argument("--checkpoint")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--frames", type=int, nargs=2, default=(32, 288), metavar=("SHORT", "LONG"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_animate_"))
    if args.base_model is None:
        sys.path.insert(0, str(ROOT / "tests"))
        from helpers.tiny_models import save_tiny_weights

        base, checkpoint = save_tiny_weights(work / "weights")
        args.base_model, args.checkpoint = str(base), str(checkpoint)
    common = ["--ref", str(args.data / REFERENCE), "--driving", str(args.data / VIDEO), "--stride", "1",
              "--resolution", str(args.resolution), "--steps", str(args.steps),
              "--base-model", args.base_model, "--checkpoint", args.checkpoint]  # fmt: skip

    results = []
    for frames in args.frames:
        out = work / f"animate_{frames}.mp4"
        seconds, peak = run_animate([*common, "--max-frames", str(frames), "--out", str(out)])
        results.append((frames, seconds, peak))
        print(f"{frames:4d} driving frames: {seconds:6.1f} s, {frames / seconds:5.1f} frames/s, "
              f"peak RSS {peak:7.0f} MiB", flush=True)  # fmt: skip
    (short, _, short_peak), (long, _, long_peak) = results
    print(f"peak RSS {long} vs {short} frames: {100 * (long_peak / short_peak - 1):+.1f}%")


if __name__ == "__main__":
    main()
