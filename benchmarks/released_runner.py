"""Time the released MimicMotion pipeline on given weights and inputs (for bench_sampling.py --side-by-side).

Usage: python released_runner.py SPEC.json. It runs in its own interpreter because the released package is
also called `mimicmotion`; nothing of it is imported by our code. The spec names the released sources
("released"), a base folder in diffusers layout ("base"), a `.pth` checkpoint ("checkpoint"), an .npz with
the reference (H, W, 3) uint8 and the pose pictures (F, H, W, 3) uint8 ("inputs"), the sampling settings,
"device" ("cpu", "cuda", "cuda:N"), "dtype" ("fp16": the released default, the default torch dtype set to
float16 before anything is built, the released loader itself; "fp32": its --no_use_float16 run with every
component in float32), "output" (JSON with the figures) and optionally "frames" (.npz for the decoded frames).

Between loading and sampling this does what the released inference.py does (see
tests/oracle/released_sampler.py). Timing as in bench_sampling.py: a wrapper around `scheduler.step`
notes when each step is called, and one around `decode_latents` times the decoding.
"""

import contextlib
import itertools
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import PIL.Image
import torch

# The released loading (its own loader for fp16, the same components in float32 otherwise), shared with the
# oracle tests, which run the released code the same way.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "oracle"))
from released_sampler import load_pipeline


def main(spec_path: str) -> None:
    with open(spec_path) as file:
        spec = json.load(file)
    sys.path.insert(0, spec["released"])
    device = torch.device(spec["device"])
    cuda = device.type == "cuda"
    if not cuda:
        # the released pipeline calls torch.cuda.device(device) to empty the CUDA cache, which needs CUDA
        torch.cuda.device = lambda device: contextlib.nullcontext()
    if spec["dtype"] == "fp16":
        torch.set_default_dtype(torch.float16)

    from mimicmotion.utils.geglu_patch import patch_geglu_inplace

    patch_geglu_inplace()  # the released inference.py patches it at import time
    load_start = time.perf_counter()
    pipeline = load_pipeline(spec)
    loaded = time.perf_counter()

    inputs = np.load(spec["inputs"])
    pose_pixels = torch.from_numpy(inputs["poses"].transpose(0, 3, 1, 2).copy()) / 127.5 - 1
    image_pixels = torch.from_numpy(inputs["reference"].transpose(2, 0, 1)[None].copy()) / 127.5 - 1
    images = [
        PIL.Image.fromarray(image.to(torch.uint8).permute(1, 2, 0).numpy())
        for image in (image_pixels + 1.0) * 127.5
    ]

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    step_times: list[float] = []
    step = pipeline.scheduler.step

    def timed_step(*args, **kwargs):
        sync()
        step_times.append(time.perf_counter())
        return step(*args, **kwargs)

    decode_times: list[float] = []
    decode = pipeline.decode_latents

    def timed_decode(*args, **kwargs):
        sync()
        decode_times.append(time.perf_counter())
        frames = decode(*args, **kwargs)
        sync()
        decode_times.append(time.perf_counter())
        return frames

    pipeline.scheduler.step = timed_step
    pipeline.decode_latents = timed_decode
    try:  # the peak resident set from here on, as bench_sampling.py measures ours (Linux: resets VmHWM)
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    generator = torch.Generator(device=device).manual_seed(spec["seed"])  # as inference.py makes it
    start = time.perf_counter()
    with torch.no_grad():  # inference.py runs main() under no_grad
        frames = pipeline(
            images,
            image_pose=pose_pixels,
            num_frames=pose_pixels.size(0),
            tile_size=spec["tile_size"],
            tile_overlap=spec["tile_overlap"],
            height=pose_pixels.shape[-2],
            width=pose_pixels.shape[-1],
            fps=7,
            noise_aug_strength=spec["noise_aug"],
            num_inference_steps=spec["steps"],
            generator=generator,
            min_guidance_scale=spec["guidance"],
            max_guidance_scale=spec["guidance"],
            decode_chunk_size=8,
            output_type="pt",
            device=device,
        ).frames.cpu()
    sync()
    end = time.perf_counter()

    steps = [b - a for a, b in itertools.pairwise(step_times)]
    result = {
        "load_s": loaded - load_start,
        # a step lasts from one call of scheduler.step to the next (the first also holds the encoding)
        "per_step_s": sum(steps) / len(steps) if steps else step_times[0] - start,
        "sampling_s": decode_times[0] - start,
        "decode_s": decode_times[-1] - decode_times[0],
        "total_s": end - start,
        "steps_timed": len(step_times),
        "frames_shape": list(frames.shape[1:]),
        "finite": bool(torch.isfinite(frames).all()),
        "peak_rss_gib": peak_rss_gib(),
    }
    if cuda:
        result["peak_allocated_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
        result["peak_reserved_gib"] = torch.cuda.max_memory_reserved(device) / 2**30
    if spec.get("frames"):
        np.savez(spec["frames"], frames=frames[0].float().numpy())
    with open(spec["output"], "w") as file:
        json.dump(result, file)


def peak_rss_gib() -> float:
    """This process's peak resident set size: VmHWM on Linux (its own memory; ru_maxrss would also count
    what the parent process held before this one was started, as Linux keeps it across exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kilobytes on Linux, where it is read


if __name__ == "__main__":
    main(sys.argv[1])
