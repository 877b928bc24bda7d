import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from pose_testing import standing_sequence

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose import PoseFrames, prepare_reference, render_pose, render_pose_frames, target_size


def test_target_size_follows_the_released_formula():
    for resolution in range(64, 2049, 64):
        long_side = math.floor(Fraction(resolution) / Fraction(9, 16) / 64) * 64
        assert target_size(1920, 1080, resolution) == (long_side, resolution)  # portrait
        assert target_size(1080, 1920, resolution) == (resolution, long_side)  # landscape
        assert target_size(700, 700, resolution) == (resolution, long_side)  # square: as landscape
    assert target_size(1920, 1080, 576) == (1024, 576)
    for resolution in (0, 32, 570, 584):  # 584: a multiple of 8 (the VAE's block) but not of 64 (SVD's)
        with pytest.raises(MimicMotionError, match="positive multiple of 64"):
            target_size(1920, 1080, resolution)


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


def bilinear_half_pixel(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize written from its definition, in float64: output pixel i samples the input at
    (i + 0.5) * in / out - 0.5, clamped at 0 below, between its two nearest input pixels (no
    antialiasing), the last input pixel repeating at the far edge."""

    def taps(size_in, size_out):
        source = np.maximum((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0.0)
        low = np.minimum(np.floor(source).astype(int), size_in - 1)
        return low, np.minimum(low + 1, size_in - 1), source - low

    y0, y1, wy = taps(image.shape[0], height)
    x0, x1, wx = taps(image.shape[1], width)
    pixels = image.astype(np.float64)
    rows = pixels[y0] * (1 - wy)[:, None, None] + pixels[y1] * wy[:, None, None]
    return rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


def test_reference_resize_rounds_bilinear_values_without_antialiasing():
    from mimicmotion.pose.reference import resize_bilinear

    # a ramp 0, 1, 2, ... doubled in width: output x samples input x / 2 - 0.25, so its values are
    # 0 (clamped), 0.25, 0.75, 1.25, ...: rounded (not truncated) that is 0, 0, 1, 1, 2, 2, ...
    ramp = np.broadcast_to(np.arange(100, dtype=np.uint8)[None, :, None], (4, 100, 3)).copy()
    wide = resize_bilinear(ramp, 4, 200)
    assert wide[0, :8, 0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert wide[0, -1, 0] == 99 and np.all(wide == wide[:1])
    # every third column lit, shrunk 3 times: output x samples input 3x + 1 exactly, so without
    # antialiasing each output pixel is one lit column (an antialiased shrink would average to ~85)
    stripes = np.zeros((9, 300, 3), np.uint8)
    stripes[:, 1::3] = 255
    assert np.all(resize_bilinear(stripes, 3, 100) == 255)


def test_reference_preparation_is_the_bilinear_resize_and_center_crop(shared_data):
    from PIL import Image

    image = np.asarray(Image.open(shared_data / "ref_demo1.jpg").convert("RGB").resize((700, 1000)))
    # wider than 9:16: 1024 rows and ceil(1024 / (1000 / 700)) = 717 columns; the crop starts at
    # round(141 / 2) = 70, Python's round, halves to even (torchvision's center_crop)
    prepared = prepare_reference(image, 576)
    expected = bilinear_half_pixel(image, 1024, 717)[:, 70:646]
    difference = np.abs(prepared.astype(np.float64) - expected)
    # float32 arithmetic may land an exact half on either side; everything else rounds alike
    near_half = np.abs(expected - np.floor(expected) - 0.5) < 1e-3
    assert prepared.shape == (1024, 576, 3)
    assert np.all(difference[~near_half] <= 0.5) and np.all(difference <= 0.5 + 1e-3)
    assert np.array_equal(prepared, prepare_reference(prepared, 576))  # the target size: untouched


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
    assert path.parent == tmp_path
    if os.name == "posix":  # unlinked once open: a killed process leaves nothing behind
        assert not path.exists() and list(tmp_path.iterdir()) == []
    assert frames[[0, 1, 2, 3]].shape == (4, 3, 64, 32)
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
