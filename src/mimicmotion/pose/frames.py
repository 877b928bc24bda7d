"""Rendered pose pictures for the diffusion pipeline, and as a video file.

`PoseFrames` holds every pose picture of a sequence in a temporary file on disk (raw uint8 H x W x 3,
one after the other) and reads the ones asked for back with plain file reads (no memory map), so a long
video costs disk, not memory. It is indexed like an (F, 3, H, W) uint8 tensor of pictures:
``pose_frames[[0, 5, 6]]`` gives a uint8 tensor (3, 3, H, W); the pipeline converts pictures to [-1, 1]
in the dtype the released program converted them in.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from mimicmotion.pose.prefetch import prefetch
from mimicmotion.pose.render import DEFAULT_THRESHOLD, PoseRenderer
from mimicmotion.pose.types import PoseSequence

T = TypeVar("T")
# Pose pictures are flat colours on black: x264's fast presets keep them sharp at a fraction of the time.
POSE_VIDEO_PRESET = "ultrafast"


class PoseFrames:
    """F pose pictures of H x W stored in a temporary file; deleted by `close()` (or when collected), and
    on POSIX systems unlinked as soon as it is opened."""

    def __init__(self, path: str | os.PathLike, count: int, height: int, width: int) -> None:
        self.path = Path(path)
        self.count, self.height, self.width = int(count), int(height), int(width)
        self._frame_bytes = self.height * self.width * 3
        expected = self.count * self._frame_bytes
        if self.path.stat().st_size != expected:
            raise ValueError(f"{self.path} holds {self.path.stat().st_size} bytes, expected {expected}")
        self._fd: int | None = os.open(self.path, os.O_RDONLY)
        if (
            os.name == "posix"
        ):  # the open descriptor keeps the data: nothing is left even if the process is killed
            os.unlink(self.path)
        # delete the file even if close() is never called (garbage collection or interpreter exit)
        self._finalizer = weakref.finalize(self, _remove, self._fd, str(self.path))

    def __len__(self) -> int:
        return self.count

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.count, 3, self.height, self.width)

    def __getitem__(self, key: int | slice | list[int] | Any) -> Any:
        """Like indexing an (F, 3, H, W) uint8 tensor: an int gives (3, H, W), a slice or a list / array /
        tensor of indices gives (n, 3, H, W)."""
        import torch

        if isinstance(key, (int, np.integer)) or (isinstance(key, torch.Tensor) and key.ndim == 0):
            pictures = self._read([self._position(int(key))])
            return _to_tensor(pictures)[0]
        if isinstance(key, slice):
            positions = list(range(self.count))[key]
        else:
            positions = [self._position(int(i)) for i in np.asarray(key).reshape(-1)]
        return _to_tensor(self._read(positions))

    def __iter__(self) -> Iterator[Any]:
        for index in range(self.count):
            yield self[index]

    def close(self) -> None:
        """Delete the file. The frames cannot be read afterwards."""
        self._finalizer()
        self._fd = None

    def __enter__(self) -> PoseFrames:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PoseFrames({self.count} x {self.height}x{self.width}, {self.path})"

    # ----------------------------------------------------------------------------------------------

    def _position(self, index: int) -> int:
        if not -self.count <= index < self.count:
            raise IndexError(f"pose frame {index} out of range for {self.count} frames")
        return index % self.count

    def _read(self, positions: list[int]) -> np.ndarray:
        if self._fd is None:
            raise ValueError("PoseFrames is closed")
        out = np.empty((len(positions), self.height, self.width, 3), np.uint8)
        for row, position in enumerate(positions):
            data = os.pread(self._fd, self._frame_bytes, position * self._frame_bytes)
            if len(data) != self._frame_bytes:
                raise OSError(f"short read from {self.path}")
            out[row] = np.frombuffer(data, np.uint8).reshape(self.height, self.width, 3)
        return out


def _remove(fd: int, path: str) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _to_tensor(pictures: np.ndarray) -> Any:
    """(n, H, W, 3) uint8 -> (n, 3, H, W) uint8 tensor, contiguous like the released pose tensor."""
    import torch

    return torch.from_numpy(pictures).permute(0, 3, 1, 2).contiguous()


def render_pose_frames(
    seq: PoseSequence,
    height: int,
    width: int,
    style: str = "released",
    threshold: float = DEFAULT_THRESHOLD,
    directory: str | os.PathLike | None = None,
    progress: bool = False,
) -> PoseFrames:
    """Render every entry of `seq` once into a temporary file (in `directory`, default the system's)."""
    renderer = PoseRenderer(height, width, style, threshold)
    handle, name = tempfile.mkstemp(prefix=".mimicmotion-poses-", suffix=".rgb", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            for index in _progress(range(len(seq)), len(seq), progress, "render poses"):
                file.write(renderer.render(seq, index).tobytes())
        return PoseFrames(name, len(seq), height, width)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def write_pose_video(
    seq: PoseSequence,
    path: str | os.PathLike,
    height: int,
    width: int,
    style: str = "released",
    fps: float | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    progress: bool = False,
) -> None:
    """Render `seq` into an H.264 mp4 at `path` (written atomically), at `fps` or the sequence's rate.

    Drawing runs a few frames ahead in a background thread while the encoder works.
    """
    from mimicmotion.video import video_writer

    renderer = PoseRenderer(height, width, style, threshold)
    pictures = prefetch(renderer.render(seq, index) for index in range(len(seq)))
    with video_writer(path, fps or seq.sample_fps or 24.0, preset=POSE_VIDEO_PRESET) as writer:
        for picture in _progress(pictures, len(seq), progress, "render poses"):
            writer.write(picture)


def _progress(items: Iterable[T], count: int, enabled: bool, desc: str) -> Iterable[T]:
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, total=count, unit="frame", desc=desc, dynamic_ncols=True)
