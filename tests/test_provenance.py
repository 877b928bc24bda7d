"""Every file of the repository is the project's own or comes from a package registry: none is a copy of the
test media beside it (../shared/data, other projects' files) or of the released MimicMotion code."""

import hashlib
import subprocess
from pathlib import Path

import pytest
from helpers.oracle import released_source, why_no_released_source

ROOT = Path(__file__).resolve().parents[1]


def digests(files) -> dict[str, Path]:
    """Non-empty files by the digest of their bytes (an empty file is nobody's copy)."""
    return {hashlib.sha256(path.read_bytes()).hexdigest(): path for path in files if path.stat().st_size}


@pytest.fixture(scope="module")
def tracked() -> dict[str, Path]:
    """The files git tracks in this checkout, by the digest of their bytes."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"{ROOT} is not a git checkout ({error}): no tracked files to check")
    files = [ROOT / name for name in listed.decode().split("\0") if name]
    return digests(path for path in files if path.is_file())


def copies(tracked: dict[str, Path], others: dict[str, Path]) -> list[str]:
    return sorted(
        f"{tracked[digest].relative_to(ROOT)} = {others[digest]}" for digest in tracked.keys() & others
    )


def test_no_tracked_file_is_a_copy_of_the_shared_test_media(tracked, shared_data):
    media = digests(path for path in shared_data.rglob("*") if path.is_file())
    assert media  # the check compares with something
    assert copies(tracked, media) == []


def test_no_tracked_file_is_a_copy_of_the_released_code(tracked):
    folder = released_source()
    if folder is None:
        pytest.skip(why_no_released_source())
    released = digests(path for path in folder.rglob("*") if path.is_file())
    assert released
    assert copies(tracked, released) == []
