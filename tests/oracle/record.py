"""Record what the released MimicMotion code computes on the tests' tiny weights and inputs (golden/).

    MIMICMOTION_RELEASED_SRC=DIR python tests/oracle/record.py [--commit SHA] [--only sampler|dwpose]

DIR holds the released `mimicmotion` package (helpers/oracle.py says how to get it); ../shared/data must
be beside the repository. Writes, into tests/oracle/golden/:
- sampler.npz: the released frames (F, 3, H, W) in [0, 1] (float32) of every case of
  helpers/oracle_sampler.py, run in fp32 and in fp16, keyed "<case>.<dtype>";
- dwpose-opencvN.npz: the released keypoints, pose pictures and retargeting path of
  helpers/oracle_dwpose.py, with OpenCV N (its warping, resizing and drawing change between major
  versions: record with each major version CI installs);
- recorded.json: for each part, the machine and the versions; for the sampler, the weights' fingerprint
  and the spread of the released frames over machines, from which the golden tests take their fp16
  tolerance.

The spread: the released code is run again on every case with the CPU kernels of other machines (SSE4,
AVX2 and AVX-512 builds of torch's own kernels, oneDNN's and MKL's, chosen by ATEN_CPU_CAPABILITY,
ONEDNN_MAX_CPU_ISA and MKL_ENABLE_INSTRUCTIONS) and with 1 thread instead of all, which changes the vector
kernels and the split of every reduction, as another processor would. The largest difference from the
recorded fp16 frames is the tolerance of the fp16 golden tests; the fp32 tests allow 1e-5, and recording
stops if a case moves further than that in fp32 (the case would then be too sensitive to compare).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from helpers.oracle import released_source, run_released, why_no_released_source  # noqa: E402
from helpers.oracle_dwpose import dwpose_golden, prepare_inputs, run_ours  # noqa: E402
from helpers.oracle_sampler import (  # noqa: E402
    CASES,
    DTYPES,
    released_spec,
    save_oracle_weights,
    weights_fingerprint,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
SHARED_DATA = TESTS.parents[1] / "shared" / "data"
# other machines' CPU kernels and reduction splits (see the module's docstring)
MACHINES = {
    "SSE4": dict(ATEN_CPU_CAPABILITY="default", ONEDNN_MAX_CPU_ISA="SSE41", MKL_ENABLE_INSTRUCTIONS="SSE4_2"),
    "AVX2": dict(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2", MKL_ENABLE_INSTRUCTIONS="AVX2"),
    "AVX-512": dict(
        ATEN_CPU_CAPABILITY="avx512", ONEDNN_MAX_CPU_ISA="AVX512_CORE", MKL_ENABLE_INSTRUCTIONS="AVX512"
    ),
    "one thread": dict(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1"),
}
FP32_TOLERANCE = 1e-5  # what the golden tests allow in fp32, whatever the spread
PACKAGES = ("torch", "diffusers", "transformers", "numpy", "onnxruntime", "opencv-contrib-python", "av")


def processor() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return f"{names[0]} ({len(names)} logical cores)" if names else platform.processor()


def released_frames(
    name: str, dtype: str, weights: dict, work: Path, released: Path, env: dict
) -> np.ndarray:
    spec = released_spec(name, dtype, weights, work)
    run_released("released_sampler.py", spec, released, env=env)
    return np.load(spec["output"])["frames"]


def record_sampler(released: Path, work: Path) -> dict:
    """golden/sampler.npz; the weights' fingerprint and the spread over machines per dtype."""
    weights = save_oracle_weights(work / "weights")
    frames, spread = {}, {dtype: {} for dtype in DTYPES}
    for name in CASES:
        for dtype in DTYPES:
            recorded = released_frames(name, dtype, weights, work, released, env={})
            frames[f"{name}.{dtype}"] = recorded
            for machine, env in MACHINES.items():
                other = released_frames(name, dtype, weights, work, released, env)
                difference = float(np.abs(other - recorded).max())
                spread[dtype][f"{name} / {machine}"] = difference
                print(f"{name} {dtype} {machine}: max difference {difference:.3g}", flush=True)
    unsteady = {case: value for case, value in spread["fp32"].items() if value > FP32_TOLERANCE}
    if unsteady:  # the tests compare fp32 frames at 1e-5: a case that another CPU moves further is no case
        raise SystemExit(f"fp32 frames move by more than {FP32_TOLERANCE} on other CPUs: {unsteady}")
    np.savez_compressed(GOLDEN / "sampler.npz", **frames)
    return {
        "weights_fingerprint": weights_fingerprint(weights),
        "spread": spread,
        "tolerance": {dtype: max(spread[dtype].values()) for dtype in DTYPES},
    }


def record_dwpose(released: Path, work: Path) -> str:
    """golden/dwpose-opencvN.npz for this environment's OpenCV major version N; the part's name."""
    folder = work / "dwpose"
    folder.mkdir()
    spec = prepare_inputs(SHARED_DATA, folder)
    run_ours(spec)  # writes the prepared reference the released side is given
    run_released("released_dwpose.py", spec, released, timeout=300)
    part = dwpose_golden().stem
    with np.load(spec["output"]) as arrays:
        np.savez_compressed(GOLDEN / f"{part}.npz", **arrays)
    return part


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commit", help="the released repository's commit the sources came from, to note")
    parser.add_argument("--only", choices=("sampler", "dwpose"), help="record one part, keep the others")
    args = parser.parse_args()
    released = released_source()
    if released is None:
        raise SystemExit(why_no_released_source())
    if not SHARED_DATA.is_dir():
        raise SystemExit(f"the test media are not at {SHARED_DATA} (../shared/data beside the repository)")
    GOLDEN.mkdir(exist_ok=True)
    note_file = GOLDEN / "recorded.json"
    note = json.loads(note_file.read_text()) if note_file.is_file() else {}
    made_where = {
        "recorded": datetime.date.today().isoformat(),
        "released_commit": args.commit,
        "machine": {
            "processor": processor(),
            "architecture": platform.machine(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {package: version(package) for package in PACKAGES},
    }
    with tempfile.TemporaryDirectory(prefix="mimicmotion-record-") as work:
        if args.only != "dwpose":
            note["sampler"] = {**made_where, **record_sampler(released, Path(work))}
            print("tolerance:", json.dumps(note["sampler"]["tolerance"]))
        if args.only != "sampler":
            note[record_dwpose(released, Path(work))] = made_where
    note_file.write_text(json.dumps(note, indent=2) + "\n")


if __name__ == "__main__":
    main()
