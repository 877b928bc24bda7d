"""The released MimicMotion code as a test oracle.

`../shared/reference/released` holds the released sources. Tests run them in a separate Python process
(their package is also called `mimicmotion`), through the small scripts of this folder, and compare what
they write with what our code computes from the same inputs and the same tiny weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RELEASED = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "released"
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def released_code() -> Path:
    """The released sources; tests that need them skip when they are absent."""
    if not (RELEASED / "mimicmotion").is_dir():
        pytest.skip(f"the released MimicMotion code is not at {RELEASED} (../shared/reference/released)")
    for module in ("einops", "matplotlib"):
        pytest.importorskip(module, reason=f"the released code needs {module} (pip install -e '.[test]')")
    return RELEASED


def run_released(script: str, spec: dict, timeout: float = 600) -> None:
    """Run `tests/oracle/<script>` on `spec` (written as JSON) in a fresh interpreter; fail with its stderr."""
    spec_path = Path(spec["output"]).with_suffix(".spec.json")
    spec_path.write_text(json.dumps({"released": str(RELEASED), **spec}))
    env = {**os.environ, "PYTHONPATH": "", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(HERE / script), str(spec_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=spec_path.parent,
    )
    if result.returncode != 0:
        pytest.fail(f"the released code failed ({script}):\n{result.stderr[-4000:]}")
