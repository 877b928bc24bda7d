"""Keeping native log lines off the terminal while a detector runs.

MediaPipe and TFLite log from C++ straight to file descriptor 2 ("INFO: Created TensorFlow Lite XNNPACK
delegate", absl "W0000 ... Feedback manager ..."), whenever a model is first used, which can be any
frame. While `native_logs_silenced()` is active, descriptor 2 points to /dev/null and Python's
`sys.stderr`, if it wrote to descriptor 2, is pointed at the real terminal, so progress bars, warnings
and tracebacks still show. Several threads may be inside at once: the first one in redirects, the last
one out restores.

`live_stderr` is a file object that always writes to whatever `sys.stderr` is at that moment; give it
to progress bars created before the redirection.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_depth = 0
_saved_fd = -1
_python_stderr: Any = None


@contextlib.contextmanager
def native_logs_silenced() -> Iterator[None]:
    _enter()
    try:
        yield
    finally:
        _leave()


def _enter() -> None:
    global _depth, _saved_fd, _python_stderr
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        sys.stderr.flush()
        _saved_fd = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        if _writes_to_fd2(sys.stderr):
            _python_stderr = sys.stderr
            raw = io.FileIO(_saved_fd, "w", closefd=False)
            sys.stderr = io.TextIOWrapper(
                raw, encoding="utf-8", errors="backslashreplace", write_through=True
            )


def _leave() -> None:
    global _depth, _saved_fd, _python_stderr
    with _lock:
        _depth -= 1
        if _depth > 0:
            return
        if _python_stderr is not None:
            sys.stderr.flush()
            sys.stderr = _python_stderr
            _python_stderr = None
        os.dup2(_saved_fd, 2)
        os.close(_saved_fd)
        _saved_fd = -1


def _writes_to_fd2(stream: Any) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):  # pytest's capture, StringIO, ...
        return False


class _LiveStderr:
    """Writes to the current `sys.stderr`, whatever it is at the time of writing."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.stderr, name)


live_stderr = _LiveStderr()
