"""The frames of prepared videos, decoded and cropped as training sees them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import av
import numpy as np

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.reference import CoverCrop
from mimicmotion.video import upright_rgb

if TYPE_CHECKING:
    from mimicmotion.train.dataset import PreparedVideo

SEEK_GAP = 48  # wanted frames further apart than this are reached by seeking rather than decoding


def target_frames(decoded: dict[int, np.ndarray], crop: CoverCrop, indices: list[int]) -> np.ndarray:
    """Decoded frames `indices` as training targets, (N, H, W, 3) uint8: cover-cropped to the training
    size and area-averaged when shrinking (the reference is resized as at inference instead, see
    `CoverCrop.image`)."""
    return np.stack([crop.image(decoded[i], antialias=True) for i in indices])


def read_frames(video: PreparedVideo, indices: list[int]) -> dict[int, np.ndarray]:
    """RGB uint8 frames {index: (H, W, 3)} of the source video, seeking to each group of indices."""
    wanted = sorted(set(indices))
    try:
        container = av.open(str(video.video))
    except (av.error.FFmpegError, OSError) as error:
        raise MimicMotionError(f"cannot read video {video.video}: {error}") from None
    found: dict[int, np.ndarray] = {}
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        pts = video.frame_pts
        if pts is not None and len(pts) == video.num_frames:
            for group in _groups(wanted):
                found.update(_decode_group(container, stream, pts, group))
        missing = [i for i in wanted if i not in found]
        if missing:  # no usable timestamps: decode from the start up to the last frame needed
            container.seek(0)
            last = missing[-1]
            for index, frame in enumerate(container.decode(stream)):
                if index in missing:
                    found[index] = upright_rgb(frame)
                if index >= last:
                    break
    if len(found) < len(wanted):
        raise MimicMotionError(
            f"{video.video} has fewer frames than prepare-data counted ({video.num_frames})"
        )
    return found


def _groups(indices: list[int]) -> Iterator[list[int]]:
    group = [indices[0]]
    for index in indices[1:]:
        if index - group[-1] > SEEK_GAP:
            yield group
            group = []
        group.append(index)
    yield group


def _decode_group(container, stream, pts: list[int], group: list[int]) -> dict[int, np.ndarray]:
    targets = {pts[i]: i for i in group}
    last = pts[group[-1]]
    found = {}
    container.seek(pts[group[0]], stream=stream, backward=True, any_frame=False)
    for frame in container.decode(stream):
        if frame.pts is None:
            break
        if frame.pts in targets:
            found[targets[frame.pts]] = upright_rgb(frame)
        if frame.pts >= last:
            break
    return found
