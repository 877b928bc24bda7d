"""Running the released MimicMotion code as a test oracle.

The released sources are never part of this repository. Where a copy is at hand (for instance from a git
directory of the public repository: `git -C DIR archive HEAD mimicmotion | tar -x -C SOMEWHERE`), the
environment variable MIMICMOTION_RELEASED_SRC names the folder that holds its `mimicmotion` package
(SOMEWHERE above). The released package is also called `mimicmotion`, so it runs in a separate interpreter,
through the scripts of tests/oracle, which write what it computes to a file the caller then reads.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

RELEASED_SRC_VARIABLE = "MIMICMOTION_RELEASED_SRC"
SCRIPTS = Path(__file__).resolve().parents[1] / "oracle"
GOLDEN = SCRIPTS / "golden"


def recording(part: str) -> dict:
    """What golden/recorded.json says of `part` (the machine, the versions, ...); skips where this machine
    is of another architecture than the recording's: its kernels (and its seeded random draws) differ by
    more than the recorded tolerances, so there only the live comparison applies."""
    import pytest  # the recording script imports this module too, outside pytest

    recorded = json.loads((GOLDEN / "recorded.json").read_text())[part]
    architecture = recorded["machine"]["architecture"]
    if platform.machine() != architecture:
        pytest.skip(
            f"{part} was recorded on {architecture}, this is {platform.machine()}: compare with the released "
            f"code itself ({RELEASED_SRC_VARIABLE}) or record it here (tests/oracle/record.py)"
        )
    return recorded


def released_source() -> Path | None:
    """The folder holding the released `mimicmotion` package, or None where it is not set or not there."""
    folder = os.environ.get(RELEASED_SRC_VARIABLE)
    if not folder or not (Path(folder) / "mimicmotion" / "pipelines").is_dir():
        return None
    return Path(folder).resolve()


def why_no_released_source() -> str:
    """Why `released_source()` found nothing, as a sentence."""
    folder = os.environ.get(RELEASED_SRC_VARIABLE)
    if not folder:
        return f"the released MimicMotion code is not available (set {RELEASED_SRC_VARIABLE} to its folder)"
    return f"{RELEASED_SRC_VARIABLE}={folder} does not hold the released mimicmotion package"


def run_released(
    script: str, spec: dict, released: Path, timeout: float = 600, env: dict | None = None
) -> None:
    """Run `tests/oracle/<script>` on `spec` (saved as JSON beside its output) in a fresh interpreter.

    `env` adds to the environment (e.g. ATEN_CPU_CAPABILITY); a failure raises with the script's stderr.
    """
    spec_path = Path(spec["output"]).with_suffix(".spec.json")
    spec_path.write_text(json.dumps({"released": str(released), **spec}))
    environment = {
        **os.environ, "PYTHONPATH": "", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})
    }  # fmt: skip
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / script), str(spec_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=spec_path.parent,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the released code failed ({script}):\n{result.stderr[-4000:]}")
