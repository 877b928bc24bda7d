"""Same seed, same frames as the released pipeline (helpers/oracle_sampler.py has the cases).

Recorded: our frames against the released code's, recorded on the same tiny weights by record.py
(golden/sampler.npz), within 1e-5 in fp32 and, in fp16, within the largest difference between runs of the
released code itself with the kernels of other machines (golden/recorded.json, "tolerance"). Live: where
MIMICMOTION_RELEASED_SRC names the released sources (helpers/oracle.py), against the released code run
now, exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.oracle import GOLDEN, recording, run_released
from helpers.oracle_sampler import (
    CASES,
    DTYPES,
    our_frames,
    released_spec,
    save_oracle_weights,
    weights_fingerprint,
)

FP32_TOLERANCE = 1e-5
PARAMETERS = [pytest.param(name, dtype, id=f"{name}-{dtype}") for name in CASES for dtype in DTYPES]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_oracle_weights(tmp_path_factory.mktemp("oracle_weights"))


@pytest.fixture(scope="module")
def recorded(weights) -> dict:
    """The recorded frames by "<case>.<dtype>", and the tolerance of each dtype, once the weights are
    checked to be those they were recorded with."""
    sampler = recording("sampler")
    assert weights_fingerprint(weights) == sampler["weights_fingerprint"], (
        "the tests' tiny weights are not those the goldens were recorded with (a change in how "
        "helpers/tiny_models.py builds them?): record them again with tests/oracle/record.py"
    )
    with np.load(GOLDEN / "sampler.npz") as frames:
        recorded = {key: torch.from_numpy(frames[key]).float() for key in frames.files}
    return {"frames": recorded, "tolerance": {"fp32": FP32_TOLERANCE, "fp16": sampler["tolerance"]["fp16"]}}


def test_the_fp16_tolerance_is_small(recorded):
    # what another machine changes in the released fp16 frames: a few fp16 steps at most, not a loophole
    assert 0 <= recorded["tolerance"]["fp16"] <= 0.02


# Not marked slow (about 10 s each on 2 cores): every CI environment compares with the recording.
@pytest.mark.parametrize(("name", "dtype"), PARAMETERS)
def test_frames_equal_the_recorded_released_frames(weights, recorded, name, dtype):
    theirs = recorded["frames"][f"{name}.{dtype}"]
    mine = our_frames(name, dtype, weights)
    assert mine.shape == theirs.shape
    assert torch.isfinite(mine).all()
    assert (mine.float() - theirs).abs().max().item() <= recorded["tolerance"][dtype]


@pytest.mark.slow  # the released pipeline runs beside ours
@pytest.mark.parametrize(("name", "dtype"), PARAMETERS)
def test_frames_equal_the_released_pipeline(released_code, weights, tmp_path, name, dtype):
    spec = released_spec(name, dtype, weights, tmp_path)
    run_released("released_sampler.py", spec, released_code)
    theirs = torch.from_numpy(np.load(spec["output"])["frames"])
    mine = our_frames(name, dtype, weights)
    assert mine.shape == theirs.shape
    assert torch.isfinite(mine).all()
    assert (mine.float() - theirs).abs().max().item() == 0.0  # the same arithmetic in the same order
