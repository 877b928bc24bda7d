"""Running the released MimicMotion code (../shared/reference/released) as a test oracle.

The released package is also called `mimicmotion`, so it runs in a separate interpreter, through the
scripts of tests/oracle, which write what it computes to a file the test then reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RELEASED = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "released"
SCRIPTS = Path(__file__).resolve().parents[1] / "oracle"


def run_released(script: str, spec: dict, timeout: float = 600) -> None:
    """Run `tests/oracle/<script>` on `spec` (saved as JSON) in a fresh interpreter; fail with its stderr."""
    spec_path = Path(spec["output"]).with_suffix(".spec.json")
    spec_path.write_text(json.dumps({"released": str(RELEASED), **spec}))
    env = {**os.environ, "PYTHONPATH": "", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / script), str(spec_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=spec_path.parent,
    )
    if result.returncode != 0:
        pytest.fail(f"the released code failed ({script}):\n{result.stderr[-4000:]}")
