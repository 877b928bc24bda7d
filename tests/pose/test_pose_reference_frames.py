import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from pose_testing import standing_sequence

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose import PoseFrames, prepare_reference, render_pose, render_pose_frames, target_size


def test_target_size_follows_the_released_formula():
    for resolution in range(64, 2049, 8):
        long_side = math.floor(Fraction(resolution) / Fraction(9, 16) / 64) * 64
        assert target_size(1920, 1080, resolution) == (long_side, resolution)  # portrait
        assert target_size(1080, 1920, resolution) == (resolution, long_side)  # landscape
        assert target_size(700, 700, resolution) == (resolution, long_side)  # square: as landscape
    assert target_size(1920, 1080, 576) == (1024, 576)
    with pytest.raises(MimicMotionError, match="multiple of 8"):
        target_size(1920, 1080, 570)


def banded_image(height, width, horizontal):
    """Green and blue bands on two opposite edges (1/8 each), a red square in the middle."""
    image = np.full((height, width, 3), 128, np.uint8)
    if horizontal:
        image[: height // 8], image[-height // 8 :] = (0, 255, 0), (0, 0, 255)
    else:
        image[:, : width // 8], image[:, -width // 8 :] = (0, 255, 0), (0, 0, 255)
    image[height // 2 - 40 : height // 2 + 40, width // 2 - 40 : width // 2 + 40] = (255, 0, 0)
    return image


def red_center(image):
    ys, xs = np.nonzero((image[..., 0] > 200) & (image[..., 1] < 50))
    return ys.mean(), xs.mean()


@pytest.mark.parametrize(
    ("height", "width", "horizontal", "expected"),
    [
        (1000, 1000, True, (576, 1024)),  # square -> landscape target, 1024 x 1024 cropped by 224 rows
        (600, 1600, False, (576, 1024)),  # too wide: 1536 x 576, cropped by 256 columns each side
        (1920, 1080, True, (1024, 576)),  # already the target's aspect
    ],
)
def test_reference_is_resized_to_cover_and_center_cropped(height, width, horizontal, expected):
    prepared = prepare_reference(banded_image(height, width, horizontal), 576)
    assert prepared.shape == (*expected, 3) and prepared.dtype == np.uint8
    cy, cx = red_center(prepared)
    assert abs(cy - expected[0] / 2) <= 1.5 and abs(cx - expected[1] / 2) <= 1.5
    green = (prepared[..., 1] > 200) & (prepared[..., 0] < 50) & (prepared[..., 2] < 50)
    if (height, width) == (1920, 1080):
        assert green[:120].mean() > 0.9  # nothing is cut
    else:
        assert green.mean() < 0.001  # the cut edges (22% and 17% of the resized side) held the bands


def test_reference_must_be_rgb_uint8():
    with pytest.raises(MimicMotionError, match="RGB uint8"):
        prepare_reference(np.zeros((100, 100), np.uint8), 576)


def test_pose_frames_index_like_a_uint8_tensor_of_pictures(tmp_path):
    seq = standing_sequence(5, 576, 1024, jitter=0.02)
    with render_pose_frames(seq, 256, 144, directory=tmp_path) as frames:
        assert len(frames) == 5 and frames.shape == (5, 3, 256, 144)
        pictures = np.stack([render_pose(seq, i, 256, 144) for i in range(5)])
        expected = torch.from_numpy(pictures).permute(0, 3, 1, 2)
        batch = frames[[0, 3, 4]]
        assert batch.dtype == torch.uint8 and batch.shape == (3, 3, 256, 144)
        assert torch.equal(batch, expected[[0, 3, 4]])
        assert torch.equal(frames[torch.tensor([4, 1])], expected[[4, 1]])
        assert torch.equal(frames[np.array([2])], expected[[2]])
        assert torch.equal(frames[1:3], expected[1:3])
        assert torch.equal(frames[-1], expected[-1])
        assert np.array_equal(frames[2].permute(1, 2, 0).numpy(), pictures[2])
        assert batch.is_contiguous()
        with pytest.raises(IndexError):
            frames[[5]]


def test_pose_frames_live_in_one_file_read_without_mmap_and_deleted_on_close(tmp_path):
    seq = standing_sequence(4)
    frames = render_pose_frames(seq, 64, 32, directory=tmp_path)
    path = frames.path
    assert path.parent == tmp_path and path.stat().st_size == 4 * 64 * 32 * 3
    frames[[0, 1, 2, 3]]
    maps = Path("/proc/self/maps")
    if maps.exists():
        assert str(path) not in maps.read_text()
    frames.close()
    assert not path.exists()
    with pytest.raises(ValueError, match="closed"):
        frames[[0]]
    frames.close()  # twice is fine


def test_pose_frames_file_is_removed_when_dropped(tmp_path):
    frames = render_pose_frames(standing_sequence(2), 64, 32, directory=tmp_path)
    path = frames.path
    del frames
    assert not path.exists()


def test_pose_frames_rejects_a_file_of_the_wrong_size(tmp_path):
    path = tmp_path / "frames.rgb"
    path.write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="expected"):
        PoseFrames(path, 2, 8, 8)
