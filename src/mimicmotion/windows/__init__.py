"""Temporal windows over a long pose sequence: their layout (`layout`) and the fusion of their
predictions (`fusion`)."""

from mimicmotion.windows.fusion import FUSIONS, fuse, fusion_weights, progressive_weights, triangular_weights
from mimicmotion.windows.layout import (
    WindowLayout,
    find_window_layout,
    load_window_layout,
    make_window_layout,
    plan_windows,
    save_window_layout,
    window_layout_path,
)

__all__ = [
    "FUSIONS",
    "WindowLayout",
    "find_window_layout",
    "fuse",
    "fusion_weights",
    "load_window_layout",
    "make_window_layout",
    "plan_windows",
    "progressive_weights",
    "save_window_layout",
    "triangular_weights",
    "window_layout_path",
]
