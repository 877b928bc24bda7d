"""How close each solver and step count gets to the exact sampling trajectory, per unet pass.

    python benchmarks/bench_solvers.py                      # tiny random weights, the table of the README
    python benchmarks/bench_solvers.py --base DIR --checkpoint FILE --resolution 256 --device cuda

The reference is a 200-step Euler run of the same seed (the probability-flow ODE solved finely); each
setting's error is the RMS distance of its final latents from the reference's, relative to the
reference's RMS, averaged over `--seeds` seeds (each its own reference image, poses and noise). The
solvers integrate the same ODE, so the table measures the solvers, not the weights: it holds for random
weights too (the network only has to be the same for every row). Unet passes = steps x 2 (guidance) x
windows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

STEPS = (5, 10, 15, 25)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", help="SVD base folder or hub id (default: tiny random weights)")
    parser.add_argument("--checkpoint", help="MimicMotion checkpoint (with --base)")
    parser.add_argument("--resolution", type=int, default=64, help="short side of the frames")
    parser.add_argument("--frames", type=int, default=12, help="frames including the reference frame 0")
    parser.add_argument("--reference-steps", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from mimicmotion import MimicMotionPipeline
    from mimicmotion.controls import NAMED_SIGMAS

    base, checkpoint = args.base, args.checkpoint
    if base is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from helpers.tiny_models import save_tiny_weights

        base, checkpoint = save_tiny_weights(Path(tempfile.mkdtemp()))
        weights = "tiny random weights"
    else:
        weights = f"{base} + {checkpoint}"
    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=checkpoint).to(args.device)
    pipe.set_progress_bar_config(disable=True)
    height, width = args.resolution, args.resolution * 3 // 2 // 16 * 16

    def latents(seed: int, **options) -> torch.Tensor:
        g = torch.Generator().manual_seed(1000 + seed)
        image = torch.rand(1, 3, height, width, generator=g)
        poses = torch.rand(args.frames, 3, height, width, generator=g) * 2 - 1
        generator = torch.Generator(device=args.device).manual_seed(seed)
        out = pipe(image, poses, tile_size=args.frames, generator=generator, output_type="latent", **options)
        return out.frames.double().cpu()

    start = time.perf_counter()
    references = []
    for seed in range(args.seeds):
        references.append(latents(seed, num_inference_steps=args.reference_steps))
        print(
            f"reference {seed + 1}/{args.seeds}: {time.perf_counter() - start:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    settings = [(solver, f"{steps} steps", {"num_inference_steps": steps}) for solver in ("euler", "dpm++2m")
                for steps in STEPS]  # fmt: skip
    for name, levels in NAMED_SIGMAS.items():
        settings += [(solver, f"--sigmas {name} ({len(levels)} steps)", {"sigmas": name}) for solver in
                     ("euler", "dpm++2m")]  # fmt: skip
    rows = []
    for solver, schedule, options in settings:
        errors = []
        for seed, reference in enumerate(references):
            result = latents(seed, scheduler=solver, **options)
            errors.append(float((result - reference).pow(2).mean().sqrt() / reference.pow(2).mean().sqrt()))
        steps = options.get("num_inference_steps") or len(NAMED_SIGMAS[options["sigmas"]])
        rows.append((solver, schedule, 2 * steps, sum(errors) / len(errors)))
        print(f"{solver}, {schedule}: {rows[-1][-1]:.4f}", file=sys.stderr, flush=True)

    seconds = time.perf_counter() - start
    print(f"{weights}, {args.frames} frames at {width}x{height} (one window), guidance 2, {args.seeds} "
          f"seeds; reference: Euler, {args.reference_steps} steps ({seconds:.0f} s in all)")  # fmt: skip
    print()
    print("| solver | schedule | unet passes per window | relative error |")
    print("|---|---|---|---|")
    for solver, schedule, passes, error in rows:
        print(f"| {solver} | {schedule} | {passes} | {error:.4f} |")
    target = next(
        error for solver, schedule, _, error in rows if solver == "euler" and schedule == "25 steps"
    )
    reaching = sorted(
        (passes, solver, schedule) for solver, schedule, passes, error in rows if error <= target
    )
    passes, solver, schedule = reaching[0]
    print(f"\nfewest passes reaching the 25-step Euler error ({target:.4f}): {solver}, {schedule}, {passes}")


if __name__ == "__main__":
    main()
