"""Sizes and durations as people read them (in messages about downloads, memory and time)."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """A duration as people say it: "40 s", "12 min", "3 h 20 min"."""
    if seconds < 1:
        return "under 1 s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def format_size(size: int) -> str:
    """A size in decimal units, as disks and downloads are counted: "233 KB", "1.6 GB"."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit in ("bytes", "KB") or value >= 10 else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def counted(number: int, noun: str) -> str:
    """ "1 window", "3 windows"."""
    return f"{number} {noun}{'s' * (number != 1)}"
