"""The released MimicMotion code as a test oracle, live where it is at hand, recorded everywhere.

Each test of test_*_oracle.py runs twice. Live: the released code runs in a separate Python process (its
package is also called `mimicmotion`) with `helpers.oracle.run_released` where MIMICMOTION_RELEASED_SRC
names its sources; elsewhere it skips, saying so. Recorded: our code against what the released code
computed on the same tiny weights and inputs, recorded by record.py into golden/; it needs no released
code and runs in CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.oracle import released_source, why_no_released_source


@pytest.fixture(scope="session")
def released_code() -> Path:
    """The released sources; tests that need them skip when they are absent."""
    folder = released_source()
    if folder is None:
        pytest.skip(why_no_released_source())
    for module in ("einops", "matplotlib"):
        pytest.importorskip(module, reason=f"the released code needs {module} (pip install -e '.[test]')")
    return folder
