"""Reference image preparation: target size, resize to cover, center crop.

As the released program prepared it (docs/released-behaviour.md, Reference image). Training prepares its
reference frames (and moves the keypoints of its clips) with the same `CoverCrop`, so the model is
trained on the pictures it sees at inference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.types import MISSING, located

DEFAULT_RESOLUTION = 576  # the released config's: 576 x 1024

# The VAE works on 8 x 8 pixel blocks and SVD's UNet halves the latent three times, so SVD's frame sides
# are multiples of 64 (the released sizes 576 and 1024 are). The model's own multiple is checked again
# when it runs (MimicMotionPipeline._check_inputs); this rule lets a wrong --resolution fail at once.
RESOLUTION_MULTIPLE = 64

# The long side is floor(R / (9/16) / 64) * 64; R / (9/16) / 64 = R / 36, kept in integers to be exact.
_LONG_SIDE_DIVISOR = 36
_LONG_SIDE_MULTIPLE = 64


def check_resolution(resolution: int) -> int:
    """`resolution` (the short side of the generated video) if it is a positive multiple of 64."""
    if resolution < RESOLUTION_MULTIPLE or resolution % RESOLUTION_MULTIPLE:
        raise MimicMotionError(
            f"resolution must be a positive multiple of {RESOLUTION_MULTIPLE}, got {resolution}"
        )
    return resolution


def target_size(height: int, width: int, resolution: int) -> tuple[int, int]:
    """(H, W) of the generated video for an input of height x width; `resolution` is the short side.

    Portrait inputs (height > width) give W = resolution; others H = resolution. 576 -> 1024 x 576.
    """
    check_resolution(resolution)
    long_side = resolution // _LONG_SIDE_DIVISOR * _LONG_SIDE_MULTIPLE
    if height > width:
        return long_side, resolution
    return resolution, long_side


def prepare_reference(image: np.ndarray, resolution: int) -> np.ndarray:
    """The reference image resized to cover `target_size` (keeping its aspect) and center-cropped.

    Input and output are RGB uint8 (height, width, 3). The resize and crop are the released
    preprocessing's (see `CoverCrop`), so the reference pixels, and the pose detected on them, are the
    released ones.
    """
    _check_image(image)
    height, width = image.shape[:2]
    return CoverCrop.fit(height, width, *target_size(height, width, resolution)).image(image)


@dataclass(frozen=True)
class CoverCrop:
    """Resize (src_h, src_w) to (resized_h, resized_w), covering (height, width); crop at (top, left)."""

    src_h: int
    src_w: int
    resized_h: int
    resized_w: int
    top: int
    left: int
    height: int
    width: int

    @classmethod
    def fit(cls, src_h: int, src_w: int, height: int, width: int) -> CoverCrop:
        """The released geometry: the resized size rounded up, the crop offsets rounded half to even
        (Python's round, as torchvision's center_crop)."""
        if src_h / src_w < height / width:  # wider than the target: match heights
            resized_h, resized_w = height, math.ceil(height / (src_h / src_w))
        else:
            resized_h, resized_w = math.ceil(width * (src_h / src_w)), width
        top = round((resized_h - height) / 2.0)
        left = round((resized_w - width) / 2.0)
        return cls(src_h, src_w, resized_h, resized_w, top, left, height, width)

    def image(self, image: np.ndarray, antialias: bool = False) -> np.ndarray:
        """`image` (src_h, src_w, 3) resized and cropped to (height, width, 3).

        By default resized as the released reference was (`resize_bilinear`, no antialiasing): what the
        model sees at inference. `antialias` averages areas when shrinking instead, for pictures the
        model only learns to produce (training targets), where aliasing would be learned too.
        """
        _check_image(image)
        if image.shape[:2] != (self.src_h, self.src_w):
            raise MimicMotionError(
                f"image of size {image.shape[1]}x{image.shape[0]}, expected {self.src_w}x{self.src_h} "
                "(the video changed since prepare-data?)"
            )
        size = (self.resized_h, self.resized_w)
        if antialias and self.resized_h < self.src_h:
            resized = cv2.resize(image, size[::-1], interpolation=cv2.INTER_AREA)
        else:
            resized = resize_bilinear(image, *size)
        crop = resized[self.top : self.top + self.height, self.left : self.left + self.width]
        return np.ascontiguousarray(crop)

    def points(self, points: np.ndarray) -> np.ndarray:
        """Keypoints [x, y, conf] normalised by the source size -> by the crop; absent ones stay absent."""
        moved = np.array(points, dtype=np.float64, copy=True)
        moved[..., 0] = (points[..., 0] * self.resized_w - self.left) / self.width
        moved[..., 1] = (points[..., 1] * self.resized_h - self.top) / self.height
        moved[..., :2][~located(points)] = MISSING
        return moved


def _check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise MimicMotionError(
            f"reference image must be RGB uint8 (H, W, 3), got {image.dtype} {image.shape}"
        )


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """An RGB uint8 image resized the way the released preprocessing resized the reference tensor.

    Bilinear with half-pixel centres (align_corners=False) and no antialiasing, even when shrinking
    (each output pixel mixes only its 2 x 2 nearest input pixels), computed in float32 and rounded to
    the nearest integer (halves to even): torchvision's tensor resize with antialias=None on a uint8
    image. OpenCV's INTER_LINEAR differs (fixed-point weights), and so does PIL (antialiased).
    """
    if image.shape[:2] == (height, width):
        return image.copy()  # torchvision returns the image untouched at its own size
    pixels = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None]  # uint8 -> float32 is exact
    resized = torch.nn.functional.interpolate(
        pixels, size=(height, width), mode="bilinear", align_corners=False, antialias=False
    )
    return resized.round().to(torch.uint8)[0].permute(1, 2, 0).contiguous().numpy()


def scaled_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(H, W) with the aspect of height x width, the short side `short_side`, both even (for video)."""
    scale = short_side / min(height, width)
    return max(2, round(height * scale / 2) * 2), max(2, round(width * scale / 2) * 2)
