"""Several processes on the CPU (gloo): one video's windows shared among them, and batches of cases.

Window-parallel sampling must give exactly the one-process latents; a batch splits its cases among the
processes, skips the finished ones when run again, reports a failing case without stopping the others,
and resumes after being killed without leaving a partial file.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import yaml

HELPERS = Path(__file__).parent / "helpers"
GIF = "dance_576x1024_19f.gif"
FAST = ["--resolution", "128", "--steps", "2", "--tile-size", "6", "--tile-overlap", "2", "--quiet"]

pytestmark = pytest.mark.slow  # processes start, each importing torch and loading the weights


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment() -> dict:
    return os.environ | {"OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}


def sample_with(world, tiny_weights, out, frames=15, tile=4, overlap=1, steps=2):
    base, checkpoint = tiny_weights
    port = free_port()
    sizes = [str(v) for v in (frames, tile, overlap, steps)]
    worker = [sys.executable, str(HELPERS / "window_worker.py")]
    processes = [
        subprocess.Popen(
            [*worker, str(rank), str(world), str(port), str(base), str(checkpoint), str(out), *sizes],
            env=environment(),
        )
        for rank in range(world)
    ]
    assert [p.wait(timeout=300) for p in processes] == [0] * world
    return torch.load(out, weights_only=True)["latents"]


def test_window_parallel_latents_equal_the_one_process_latents(tiny_weights, tmp_path):
    from mimicmotion.windows import plan_windows

    assert len(plan_windows(15, 4, 1)) == 5  # 2 processes: the second has no window in the last round
    alone = sample_with(1, tiny_weights, tmp_path / "one.pt")
    shared = sample_with(2, tiny_weights, tmp_path / "two.pt")
    assert (shared - alone).abs().max().item() <= 1e-6
    assert torch.equal(shared, alone)  # window by window, added in the same order: bit for bit


def launch(*args, processes=2, check=True):
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
               str(processes), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), "-m", "mimicmotion", *args]  # fmt: skip
    return subprocess.run(
        command, env=environment(), timeout=600, check=check, capture_output=True, text=True
    )


def frames_of(path):
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.mark.usefixtures("mediapipe")
def test_animate_with_windows_over_two_processes_writes_the_one_process_video(
    shared_data, tiny_weights, tmp_path
):
    base, checkpoint = tiny_weights
    common = ["--ref", str(shared_data / "ref_demo1.jpg"), "--driving", str(shared_data / GIF),
              "--stride", "1", "--base-model", str(base), "--checkpoint", str(checkpoint), *FAST]  # fmt: skip
    one, two = tmp_path / "one.mp4", tmp_path / "two.mp4"
    subprocess.run([sys.executable, "-m", "mimicmotion", "animate", *common, "--out", str(one)],
                   env=environment(), check=True, timeout=300)  # fmt: skip
    launch("animate", *common, "--out", str(two), "--parallel", "windows")
    a, b = frames_of(one), frames_of(two)
    assert len(a) == len(b) == 19  # 20 frames with the reference: 5 windows of 6 sharing 2
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # nothing left over


def write_jobs(path, shared_data, tiny_weights, refs):
    base, checkpoint = tiny_weights
    cases = [{"ref_image_path": ref, "ref_video_path": str(shared_data / GIF), "num_frames": 6,
              "frames_overlap": 2, "num_inference_steps": 1, "resolution": 128, "max_frames": 4, "seed": seed}
             for seed, ref in enumerate(refs)]  # fmt: skip
    path.write_text(yaml.safe_dump({"base_model_path": str(base), "ckpt_path": str(checkpoint),
                                    "test_case": cases}))  # fmt: skip
    return path


def report_of(folder):
    return {case["case"]: case for case in json.loads((folder / "jobs-report.json").read_text())["cases"]}


@pytest.mark.usefixtures("mediapipe")
def test_a_batch_over_two_processes_splits_skips_and_reports(shared_data, tiny_weights, tmp_path):
    ref = str(shared_data / "ref_demo1.jpg")
    refs = [ref, str(tmp_path / "nobody.jpg"), ref]
    jobs = write_jobs(tmp_path / "jobs.yaml", shared_data, tiny_weights, refs)
    out = tmp_path / "out"
    first = launch("animate", "--config", str(jobs), "--out", str(out), "--quiet", check=False)
    # a case failed (its processes exit with 2, which the launcher reports as 1); the others went on
    assert first.returncode != 0, first.stderr
    report = report_of(out)
    assert [report[n]["status"] for n in (1, 2, 3)] == ["done", "failed", "done"]
    assert "image not found" in report[2]["error"] and report[1]["seconds"] > 0
    assert "3 cases: 2 done, 0 skipped, 1 failed" in first.stdout
    videos = sorted(out.glob("*.mp4"))
    assert len(videos) == 2 and all(len(frames_of(v)) == 4 for v in videos)
    assert not (out / f"{Path(report[2]['output']).stem}.settings.json").exists()

    again = launch("animate", "--config", str(jobs), "--out", str(out), "--quiet", check=False)
    assert again.returncode != 0
    assert [report_of(out)[n]["status"] for n in (1, 2, 3)] == ["skipped", "failed", "skipped"]
    assert sorted(out.glob("*.mp4")) == videos


@pytest.mark.usefixtures("mediapipe")
def test_a_killed_batch_resumes_with_the_cases_it_had_not_finished(shared_data, tiny_weights, tmp_path):
    ref = str(shared_data / "ref_demo1.jpg")
    jobs = write_jobs(tmp_path / "jobs.yaml", shared_data, tiny_weights, [ref, ref])
    out = tmp_path / "out"
    command = [sys.executable, "-m", "mimicmotion", "animate", "--config", str(jobs), "--out", str(out)]
    process = subprocess.Popen(command, env=environment())
    deadline = time.monotonic() + 300
    while not list(out.glob("*.settings.json")) and time.monotonic() < deadline:  # the first case is done
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    (finished,) = out.glob("*.settings.json")
    subprocess.run(command, env=environment(), check=True, timeout=300)
    report = report_of(out)
    statuses = {Path(case["output"]).stem: case["status"] for case in report.values()}
    assert statuses[finished.name.removesuffix(".settings.json")] == "skipped"
    assert sorted(statuses.values()) == ["done", "skipped"]
    assert len(list(out.glob("*.mp4"))) == 2
    assert not [p for p in out.iterdir() if "partial" in p.name or p.name.startswith(".")]
