"""The released MimicMotion code as a test oracle.

`../shared/reference/released` holds the released sources. Tests run them in a separate Python process
(their package is also called `mimicmotion`) with `helpers.oracle.run_released`, through the small scripts of
this folder, and compare what they write with what our code computes from the same inputs and weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.oracle import RELEASED


@pytest.fixture(scope="session")
def released_code() -> Path:
    """The released sources; tests that need them skip when they are absent."""
    if not (RELEASED / "mimicmotion").is_dir():
        pytest.skip(f"the released MimicMotion code is not at {RELEASED} (../shared/reference/released)")
    for module in ("einops", "matplotlib"):
        pytest.importorskip(module, reason=f"the released code needs {module} (pip install -e '.[test]')")
    return RELEASED
