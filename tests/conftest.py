import os
import sys
import tempfile
from pathlib import Path

import pytest

# Tests never reach the network: weights are tiny random models the tests build and save. They do not see
# this machine's Hugging Face cache or DWPose folder either, so the "auto" pose detector decides the same
# way everywhere (MediaPipe, unless a test provides DWPose files).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="mimicmotion-tests-hf-")
os.environ["MIMICMOTION_CACHE"] = tempfile.mkdtemp(prefix="mimicmotion-tests-cache-")  # not the user's
os.environ.pop("MIMICMOTION_DWPOSE_DIR", None)
sys.path.insert(0, str(Path(__file__).parent))  # the `helpers` package of the tests

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real media in ../shared/data; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("real test media not found at ../shared/data (expected beside the repository)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mediapipe():
    """For tests that detect poses on real media with the offline detector (an optional extra)."""
    pytest.importorskip(
        "mediapipe",
        reason="MediaPipe is not installed (pip install 'mimicmotion[mediapipe]', CPython <= 3.12): "
        "this test detects poses with it",
    )


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> tuple[Path, Path]:
    """(base folder, checkpoint .pth) of tiny random models in the released formats."""
    from helpers.tiny_models import save_tiny_weights

    return save_tiny_weights(tmp_path_factory.mktemp("tiny_weights"))


@pytest.fixture(scope="session")
def tiny_pipe(tiny_weights):
    from mimicmotion import MimicMotionPipeline

    base, checkpoint = tiny_weights
    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=checkpoint)
    pipe.set_progress_bar_config(disable=True)
    return pipe
