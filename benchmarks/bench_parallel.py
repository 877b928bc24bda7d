"""Window-parallel sampling of one video: wall time with 1 and N processes, and the speed-up.

    python benchmarks/bench_parallel.py                    # 1 and 2 CPU processes, one thread each
    python benchmarks/bench_parallel.py --processes 1 2 4  # more processes (on a machine with the cores)

Each process runs `tests/helpers/window_worker.py` (tiny random weights, random inputs, gloo): the time is
that of the sampling itself, measured by the main process from the first to the last step (loading and
process start are left out). The video has `--windows` windows, so that the work dominates. The latents of
every run are checked to equal the one-process run's.

On a machine with several GPUs the same split is what `accelerate launch -m mimicmotion animate --parallel
windows` does; its speed-up there is to be measured with the real weights (none has been lent yet).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "helpers" / "window_worker.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(world: int, base: Path, checkpoint: Path, out: Path, sizes: list[int]) -> dict:
    environment = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    port = free_port()
    arguments = [str(v) for v in sizes]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                str(rank),
                str(world),
                str(port),
                str(base),
                str(checkpoint),
                str(out),
                *arguments,
            ],
            env=environment,
        )
        for rank in range(world)
    ]
    if any(p.wait() for p in processes):
        raise SystemExit(f"a worker of the {world}-process run failed")
    return torch.load(out, weights_only=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--tile-size", type=int, default=8)
    parser.add_argument("--tile-overlap", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--height", type=int, default=128, help="frame height (a multiple of 16)")
    parser.add_argument("--width", type=int, default=192, help="frame width (a multiple of 16)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.tiny_models import save_tiny_weights

    from mimicmotion.windows import plan_windows

    tile, overlap = args.tile_size, args.tile_overlap
    frames = tile + (args.windows - 1) * (tile - overlap)
    assert len(plan_windows(frames, tile, overlap)) == args.windows
    folder = Path(tempfile.mkdtemp())
    base, checkpoint = save_tiny_weights(folder)
    print(f"tiny weights, {frames} frames at {args.width}x{args.height} in {args.windows} windows of {tile}, "
          f"{args.steps} steps, guidance on; one thread per process; {os.cpu_count()} CPUs")  # fmt: skip
    results = {}
    for world in args.processes:
        sizes = [frames, tile, overlap, args.steps, args.height, args.width]
        results[world] = run(world, base, checkpoint, folder / f"{world}.pt", sizes)
    alone = results[args.processes[0]]
    for world, result in results.items():
        same = torch.equal(result["latents"], alone["latents"])
        speedup = alone["seconds"] / result["seconds"]
        equal = "equal to" if same else "DIFFERENT from"
        print(f"{world} process{'es' * (world > 1)}: {result['seconds']:.1f} s sampling, speed-up "
              f"{speedup:.2f}x, latents {equal} the first run's")  # fmt: skip


if __name__ == "__main__":
    main()
