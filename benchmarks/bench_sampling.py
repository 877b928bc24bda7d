"""Seconds per denoising step and peak memory of MimicMotionPipeline.

    python benchmarks/bench_sampling.py --base FOLDER_OR_HUB_ID --checkpoint FILE \
        --frames 73 --resolution 576 --steps 3 --device cuda --dtype fp16
    python benchmarks/bench_sampling.py --tiny --frames 16 --resolution 256   # tiny random weights

Inputs are random (a random reference image and random pose pictures): speed and memory do not
depend on the content. A step is one scheduler step: every window through the unet (twice with
guidance) plus the fusion. Peak memory is the accelerator's peak allocation on CUDA and the
process's peak resident set size on the CPU.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="stabilityai/stable-video-diffusion-img2vid-xt-1-1")
    parser.add_argument("--checkpoint", default="tencent/MimicMotion/MimicMotion_1-1.pth")
    parser.add_argument("--tiny", action="store_true", help="use tiny random weights (tests/helpers)")
    parser.add_argument("--frames", type=int, default=73, help="frames including the reference frame 0")
    parser.add_argument("--resolution", type=int, default=576, help="short side; the long side follows 9:16")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--tile-size", type=int, default=72)
    parser.add_argument("--tile-overlap", type=int, default=6)
    parser.add_argument("--guidance", type=float, default=2.0)
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N")
    parser.add_argument("--dtype", choices=("auto", "fp32", "fp16", "bf16"), default="auto",
                        help="auto: fp16 on CUDA, fp32 on the CPU")  # fmt: skip
    parser.add_argument("--offload", action="store_true", help="enable_model_cpu_offload()")
    args = parser.parse_args()

    from mimicmotion.animate import execution_device, load_pipeline
    from mimicmotion.config import AnimateSettings
    from mimicmotion.generation import PoseInputs, sample, video_frames

    base, checkpoint = args.base, args.checkpoint
    if args.tiny:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from helpers.tiny_models import save_tiny_weights

        base, checkpoint = save_tiny_weights(Path(tempfile.mkdtemp()))
    settings = AnimateSettings(
        base_model=str(base), checkpoint=str(checkpoint), device=args.device, dtype=args.dtype,
        offload=args.offload, tile_size=args.tile_size, tile_overlap=args.tile_overlap, steps=args.steps,
        min_guidance=args.guidance, max_guidance=args.guidance, quiet=True,
    )  # fmt: skip
    cuda = execution_device(settings).type == "cuda"
    pipe = load_pipeline(settings)

    height = args.resolution
    width = int(args.resolution / (9 / 16) // 64) * 64
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    pictures = torch.from_numpy(rng.integers(0, 256, (args.frames, 3, height, width), dtype=np.uint8))
    inputs = PoseInputs(reference, pictures, poses=None)

    step_times: list[float] = []
    step = pipe.scheduler.step

    def timed_step(*a, **k):
        if cuda:
            torch.cuda.synchronize()
        step_times.append(time.perf_counter())
        return step(*a, **k)

    pipe.scheduler.step = timed_step
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    out = sample(pipe, inputs, settings)  # the generation path animate takes
    sampled = time.perf_counter()
    for _ in video_frames(pipe, out.frames):
        pass
    decoded = time.perf_counter()

    # step i lasts from the end of step i-1 (or the start of denoising) to the call of step i
    gaps = [b - a for a, b in itertools.pairwise(step_times)]
    per_step = sum(gaps) / len(gaps) if gaps else step_times[0] - start
    print(f"device {pipe.execution_device} dtype {pipe.unet.dtype} offload {args.offload}")
    print(
        f"frames {args.frames} at {width}x{height}, windows {len(out.windows)} of {args.tile_size}, "
        f"steps {args.steps}, guidance {args.guidance}"
    )
    print(f"seconds per denoising step: {per_step:.3f}")
    print(f"sampling total: {sampled - start:.2f} s, decoding: {decoded - sampled:.2f} s")
    if cuda:
        print(f"peak accelerator memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    print(f"peak resident memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
