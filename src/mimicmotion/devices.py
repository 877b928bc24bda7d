"""Apple's MPS backend: what torch must be told before it starts, and what this Mac can do.

None of this can run on the machines the tests run on (no Mac): it follows torch's documented behaviour,
and the tests check the decisions with torch's answers replaced. This module imports torch only inside
its functions, so that the command line can set the fallback before torch is imported.
"""

from __future__ import annotations

import os
import sys

MPS_FALLBACK = "PYTORCH_ENABLE_MPS_FALLBACK"


def enable_mps_fallback() -> None:
    """On macOS, let the operations MPS lacks run on the CPU (with a warning from torch, once) instead of
    stopping the run. A value the user set is kept.

    torch reads the variable once, when it is imported: this must run before `import torch`, which is why
    the command line calls it first and the Python API cannot do it for its callers."""
    if sys.platform == "darwin":
        os.environ.setdefault(MPS_FALLBACK, "1")


def mps_fallback_enabled() -> bool:
    """Whether the variable asks for the CPU fallback (torch takes any non-zero integer)."""
    try:
        return int(os.environ.get(MPS_FALLBACK, "0").strip() or "0") != 0
    except ValueError:
        return False


def mps_unavailable_reason() -> str | None:
    """Why `--device mps` cannot run here, in a few words, or None when MPS is available."""
    import torch

    if torch.backends.mps.is_available():
        return None
    if not torch.backends.mps.is_built():
        return "this torch has no MPS support (MPS is Apple's GPU backend, in torch for macOS only)"
    return (
        "this torch has MPS but cannot use it here: it needs an Apple-silicon Mac, macOS 12.3 or later and "
        "a native arm64 Python (not one run through Rosetta)"
    )


def mps_supports_bf16() -> bool:
    """Whether this Mac's MPS computes in bfloat16: macOS 14 or later, as torch itself checks."""
    import torch

    try:
        return bool(torch.backends.mps.is_macos_or_newer(14, 0))
    except (AttributeError, RuntimeError):  # an older torch, or no MPS backend to ask
        return False
