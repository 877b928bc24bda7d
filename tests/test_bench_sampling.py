"""benchmarks/bench_sampling.py --random-full-size as a CPU smoke test (not a timed test).

The benchmark runs in a subprocess on the SVD-xt-1.1 architecture (every block and layer of the shipped
configs) at an eighth of its width (--scale 8: the full width holds 2.2 B parameters, 9 GB in fp32, too
much for CI), on 64x64 frames in one 4-frame window. What is checked is what could break: a table row
per requested mode with finite positive figures, and with --side-by-side the released pipeline's figures,
the ratios, and frames equal to ours (the same random weights and inputs in fp32 on the CPU give the
released frames bit for bit, as tests/oracle shows on tiny weights): both sides did the same work.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.oracle import released_source, why_no_released_source

from mimicmotion.config import AnimateSettings
from mimicmotion.modes import MODES, Mode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_sampling import parse_modes, settings_for  # noqa: E402

SMALL = ["--random-full-size", "--scale", "8", "--resolution", "64", "--width", "64", "--frames", "4",
         "--tile-size", "4", "--tile-overlap", "1", "--steps", "2", "--device", "cpu"]  # fmt: skip


def bench(tmp_path: Path, *options: str) -> tuple[dict, str]:
    """Run the benchmark; its JSON figures and its printed output."""
    figures = tmp_path / "figures.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_sampling.py"), *SMALL, *options,
         "--weights", str(tmp_path / "weights"), "--json", str(figures)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(figures.read_text()), result.stdout


def check_figures(row: dict) -> None:
    for key in ("per_window_step_s", "sampling_s", "decode_s", "peak_rss_gib"):
        assert math.isfinite(row[key]) and row[key] > 0, (key, row)
    assert row["finite"]
    assert row["frames_shape"] == [4, 3, 64, 64]


def table_row(output: str, label: str) -> list[str]:
    rows = [line.split(" | ") for line in output.splitlines() if " | " in line]
    matching = [cells for cells in rows if cells[0].strip() == label]
    assert len(matching) == 1, output
    return [cell.strip() for cell in matching[0]]


def test_parse_modes():
    assert parse_modes("all") == list(MODES)
    assert parse_modes("released") == [Mode()]
    # labels as Mode.label() prints them, with or without their dashes
    labels = ",".join(mode.label() for mode in MODES)
    assert parse_modes(labels) == list(MODES)
    assert parse_modes("released, offload model forward-chunking") == [
        Mode(),
        Mode(offload="model", forward_chunking=True),
    ]
    with pytest.raises(SystemExit, match="unknown mode"):
        parse_modes("released,turbo")


@pytest.mark.parametrize("mode", [Mode(), *MODES], ids=Mode.label)
def test_settings_for_sets_every_lever(mode):
    base = AnimateSettings(offload="sequential", cfg_batch=True, decode_chunk=2, steps=3)
    settings = settings_for(mode, base)
    assert settings.mode == mode
    assert settings.steps == 3


@pytest.mark.slow  # the model built, saved, loaded and sampled in a subprocess: ~10 s
def test_modes_at_full_depth(tmp_path):
    figures, output = bench(tmp_path, "--modes", "released,--cfg-batch")
    assert [row["mode"] for row in figures["modes"]] == ["released", "--cfg-batch"]
    for row in figures["modes"]:
        check_figures(row)
        cells = table_row(output, row["mode"])
        assert all(math.isfinite(float(cell)) and float(cell) > 0 for cell in cells[1:])
    assert figures["released"] is None
    assert "random weights:" in output  # written, once, by the benchmark itself
    note = json.loads((tmp_path / "weights" / "random-weights.json").read_text())
    assert note["scale"] == 8 and note["parameters"] > 30e6  # the whole depth of SVD-xt at 1/8 width


@pytest.mark.slow  # both pipelines built, loaded and sampled in subprocesses: ~20 s
def test_side_by_side_compares_the_same_work(tmp_path):
    if released_source() is None:
        pytest.skip(why_no_released_source())
    for module in ("einops", "matplotlib"):
        pytest.importorskip(module, reason=f"the released code needs {module} (pip install -e '.[test]')")
    frames = tmp_path / "frames"
    figures, output = bench(tmp_path, "--modes", "released", "--side-by-side", "--save-frames", str(frames))
    released = figures["released"]
    for key in ("per_window_step_s", "sampling_s", "decode_s", "peak_rss_gib"):
        assert math.isfinite(released[key]) and released[key] > 0, (key, released)
    assert released["finite"] and released["steps_timed"] == 2
    row = figures["modes"][0]
    check_figures(row)
    assert math.isfinite(row["time_ratio"]) and row["time_ratio"] > 0
    assert math.isfinite(row["memory_ratio"]) and row["memory_ratio"] > 0
    ours_cells, released_cells = table_row(output, "released"), table_row(output, "released code")
    assert all(float(cell) > 0 for cell in ours_cells[1:])  # the ratios included
    assert all(float(cell) > 0 for cell in released_cells[1:5])
    ours = np.load(frames / "ours-0.npz")["frames"]
    theirs = np.load(frames / "released.npz")["frames"]
    assert ours.shape == theirs.shape == (4, 3, 64, 64)
    assert ours.std() > 0.01  # random weights, yet not a blank video
    np.testing.assert_array_equal(ours, theirs)
