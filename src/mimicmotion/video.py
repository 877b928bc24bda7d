"""Reading and writing video, one frame at a time.

Videos (mp4, mov, webm, mkv, gif, ...) are decoded with PyAV; a folder of images is read as a
video too. Frames are yielded as RGB uint8 arrays (height, width, 3) and never collected, so
memory does not depend on the length of the video. Output files are written next to their final
path under a temporary name and renamed only when complete: H.264 in mp4, or lossless FFV1 in Matroska
(.mkv) for comparisons. Either way the file is a function of the frames, the PyAV/FFmpeg build and the
processor family: the same frames give the same bytes whatever the number of cores.

Pictures come upright, as a viewer shows them: a photo is turned by its EXIF orientation (phones store
the sensor's pixels and a tag), a video frame by its stream's display matrix (phones store a rotation);
sizes (`VideoInfo`) are those of the upright frames.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mimicmotion.audio import AudioSpan, AudioTrack
from mimicmotion.errors import MimicMotionError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
FOLDER_FPS = 24.0  # an image folder carries no frame rate; it is read as 24 fps footage
MAX_VIDEO_SIDE = 8192  # 8K footage is 7680 x 4320; a larger frame is a broken or hostile file
# x264's output depends on its thread count, and its default ("auto") follows the cores the process may
# use: the same frames gave different files on different machines (or under another CPU affinity). A fixed
# count makes the file a function of the frames; 8 keeps most of the speed of auto on machines up to 8
# cores (72 frames of 576x1024 at crf 18 on 2 cores: 1.6 s, against 1.4 s with auto and 2.0 s with 1).
X264_THREADS = 8
LOSSLESS_SUFFIX = ".mkv"  # video_writer writes FFV1 in Matroska for this suffix, H.264 in mp4 otherwise
VIDEO_OUTPUTS = (".mp4", LOSSLESS_SUFFIX)
# FFV1 stores 8-bit RGB as bgr0 (it takes no gbrp): RGB uint8 frames decode back exactly
FFV1_PIXEL_FORMAT = "bgr0"


class NoFramesError(MimicMotionError):
    """The video (or the part of it asked for) holds no frame."""


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: float
    num_frames: int


def driving_frame_step(fps: float, stride: int) -> int:
    """Source frames between two sampled driving frames: `stride` at <= 24 fps, more above.

    This is the sampling rule the released checkpoint's inference used (docs/released-behaviour.md,
    Driving video).
    """
    if stride < 1:
        raise MimicMotionError(f"stride must be at least 1, got {stride}")
    return stride * max(1, int(fps / 24))


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB uint8 (height, width, 3), turned upright by its EXIF orientation."""
    path = Path(path)
    if not path.is_file():
        raise MimicMotionError(f"image not found: {path}")
    try:
        with Image.open(path) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except Image.DecompressionBombError:
        raise MimicMotionError(
            f"cannot read image {path}: it claims more than {2 * Image.MAX_IMAGE_PIXELS} pixels, more than "
            "any photo (a decompression bomb?)"
        ) from None
    except (UnidentifiedImageError, OSError) as error:
        raise MimicMotionError(f"cannot read image {path}: {error}") from None


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _folder_images(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not files:
        raise MimicMotionError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {folder}")
    return sorted(files, key=_natural_key)


def _open_container(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise MimicMotionError(f"video not found: {path}")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise MimicMotionError(f"cannot read video {path}: {error}") from None
    if not container.streams.video:
        container.close()
        raise MimicMotionError(f"no video stream in {path}")
    return container


def _stream_fps(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if rate:
        return float(rate)
    return FOLDER_FPS


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Upright size, frame rate and frame count of a video file or image folder (of a video, only the first
    frame is decoded: PyAV gives the display rotation with decoded frames)."""
    path = Path(path)
    if path.is_dir():
        files = _folder_images(path)
        first = read_image(files[0])
        return VideoInfo(path, first.shape[1], first.shape[0], FOLDER_FPS, len(files))
    container = _open_container(path)
    with container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if _quarter_turns(_first_frame_rotation(container, stream)) % 2:
            width, height = height, width
        fps = _stream_fps(stream)
        num_frames = stream.frames
        if not num_frames:  # webm/mkv do not store a count: count packets, which is cheap
            container.seek(0)
            num_frames = sum(1 for packet in container.demux(stream) if packet.size)
    if num_frames == 0 or width == 0 or height == 0:
        raise MimicMotionError(f"video has no frames: {path}")
    if max(width, height) > MAX_VIDEO_SIDE:
        raise MimicMotionError(
            f"video {path} is {width}x{height}: more than {MAX_VIDEO_SIDE} pixels on a side is more than any "
            "camera records (scale it down first, e.g. to 1080p)"
        )
    return VideoInfo(path, width, height, fps, num_frames)


def iter_frames(
    path: str | os.PathLike,
    step: int = 1,
    max_frames: int | None = None,
    size: tuple[int, int] | None = None,
    start: int = 0,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (source frame index, RGB uint8 frame) for every `step`-th frame (index % step == 0).

    Frames before index `start` are skipped, and at most `max_frames` frames are yielded. With `size` =
    (width, height) frames come scaled to that size (by the decoder's scaler for videos, cheaper than
    resizing afterwards). Skipped frames are decoded (videos need them) but not converted. Raises
    MimicMotionError if the source cannot be decoded or yields no frame at all.
    """
    if step < 1:
        raise MimicMotionError(f"frame step must be at least 1, got {step}")
    if max_frames is not None and max_frames < 1:
        raise MimicMotionError(f"max_frames must be at least 1, got {max_frames}")
    path = Path(path)
    keep = _Keep(step, start)
    frames = _iter_folder(path, keep, size) if path.is_dir() else _iter_container(path, keep, size)
    yielded = 0
    for index, frame in frames:
        yield index, frame
        yielded += 1
        if max_frames is not None and yielded >= max_frames:
            break
    if yielded == 0:
        raise NoFramesError(f"video has no frames: {path}" + (f" from frame {start}" if start else ""))


@dataclass(frozen=True)
class _Keep:
    """Which source frames iter_frames yields."""

    step: int
    start: int

    def __call__(self, index: int) -> bool:
        return index >= self.start and index % self.step == 0


def _iter_folder(folder: Path, keep: _Keep, size: tuple[int, int] | None) -> Iterator[tuple[int, np.ndarray]]:
    for index, file in enumerate(_folder_images(folder)):
        if not keep(index):
            continue
        image = read_image(file)
        if size is not None and (image.shape[1], image.shape[0]) != tuple(size):
            image = np.asarray(Image.fromarray(image).resize(tuple(size), Image.Resampling.BILINEAR))
        yield index, image


def _iter_container(
    path: Path, keep: _Keep, size: tuple[int, int] | None
) -> Iterator[tuple[int, np.ndarray]]:
    container = _open_container(path)
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                if keep(index):
                    yield index, upright_rgb(frame, size)
        except av.error.FFmpegError as error:
            raise MimicMotionError(f"cannot decode video {path}: {error}") from None


def upright_rgb(frame: av.VideoFrame, size: tuple[int, int] | None = None) -> np.ndarray:
    """A decoded frame as RGB uint8 (H, W, 3), turned as its display matrix says, at `size` = (width,
    height) of the upright picture if given (scaled by the decoder's scaler, before turning)."""
    turns = _quarter_turns(frame.rotation)
    scale = {}
    if size is not None:
        width, height = (size[1], size[0]) if turns % 2 else size
        scale = {"width": int(width), "height": int(height), "interpolation": "AREA"}
    pixels = frame.to_ndarray(format="rgb24", **scale)
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


def _quarter_turns(rotation: float) -> int:
    """Counter-clockwise quarter turns for a display matrix's rotation in degrees (counter-clockwise)."""
    return round(rotation / 90) % 4


def _first_frame_rotation(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float:
    """The display rotation of the video (PyAV exposes it on decoded frames, not on the stream)."""
    try:
        frame = next(container.decode(stream), None)
    except av.error.FFmpegError:
        return 0.0
    return frame.rotation if frame is not None else 0.0


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early if `path` cannot be created: its folder is missing or not writable."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise MimicMotionError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK):
        raise MimicMotionError(f"output folder is not writable: {folder}")
    if path.is_dir():
        raise MimicMotionError(f"output path is a folder: {path}")
    return path


def make_folder(path: str | os.PathLike) -> Path:
    """Create an output folder (and its parents) if needed; MimicMotionError if it cannot be."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MimicMotionError(f"cannot create output folder {path}: {error.strerror or error}") from None
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` only if the block succeeds.

    Any exception, KeyboardInterrupt included, removes the temporary file, so a failed or
    interrupted run never leaves a partial output behind.
    """
    path = check_writable(path)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent or "."
    )
    os.close(handle)
    temp = Path(temp_name)
    # mkstemp makes the file private (0600); give the output the permissions a new file normally gets
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)
    try:
        yield temp
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        if error.errno == errno.ENOSPC:
            raise MimicMotionError(
                f"no space left on the disk to write {path}; nothing was written (free some space, then "
                "run again)"
            ) from None
        raise
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def remove_partial_outputs(path: str | os.PathLike) -> None:
    """The hidden temporary files of `atomic_output(path)` that a killed run left behind (never outputs:
    only a finished block renames one into place)."""
    path = Path(path)
    for leftover in path.parent.glob(f".{path.stem}.*.partial{path.suffix}"):
        leftover.unlink(missing_ok=True)


class VideoWriter:
    """Encodes RGB uint8 frames into an open container as H.264 (yuv420p), or with `lossless` as FFV1
    (8-bit RGB, exact), and `audio`, if given, as AAC once the frames are written."""

    def __init__(
        self,
        container: av.container.OutputContainer,
        fps: float,
        crf: int,
        preset: str | None = None,
        audio: AudioSpan | None = None,
        lossless: bool = False,
    ) -> None:
        self._container = container
        self._rate = Fraction(fps).limit_denominator(1001)
        self._crf = crf
        self._preset = preset
        self._audio = audio
        self._lossless = lossless
        self._stream: av.video.stream.VideoStream | None = None
        self._track: AudioTrack | None = None
        self.frames_written = 0

    def write(self, frame: np.ndarray) -> None:
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {frame.dtype} {frame.shape}")
        if self._stream is None:  # every stream is added before the first packet is written
            self._stream = self._add_stream(width=frame.shape[1], height=frame.shape[0])
            self._track = AudioTrack(self._container, self._audio) if self._audio is not None else None
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        self._container.mux(self._stream.encode(video_frame))
        self.frames_written += 1

    def _add_stream(self, width: int, height: int) -> av.video.stream.VideoStream:
        if self._lossless:  # crf and preset are x264's: FFV1 has no quality to choose
            stream = self._container.add_stream("ffv1", rate=self._rate)
            stream.width, stream.height = width, height
            stream.pix_fmt = FFV1_PIXEL_FORMAT
            return stream
        if width % 2 or height % 2:
            raise ValueError(f"H.264 needs an even frame size, got {width}x{height}")
        stream = self._container.add_stream("libx264", rate=self._rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        options = {"crf": str(self._crf), "threads": str(X264_THREADS)}
        if self._preset:  # x264 speed/size trade-off (libx264's default is "medium")
            options["preset"] = self._preset
        stream.options = options
        return stream

    def flush(self) -> None:
        if self._stream is not None:
            self._container.mux(self._stream.encode(None))
        if self._track is not None:
            self._track.write()


@contextlib.contextmanager
def video_writer(
    path: str | os.PathLike,
    fps: float,
    crf: int = 18,
    preset: str | None = None,
    audio: AudioSpan | None = None,
) -> Iterator[VideoWriter]:
    """Write an H.264 mp4 at `fps` (a lossless FFV1 Matroska file when `path` ends in .mkv), atomically:
    the file appears at `path` only when the block ends without error and at least one frame was
    written. `crf`, `preset`: x264's quality and speed (default medium; unused for .mkv); `audio`: sound
    to add (`mimicmotion.audio`)."""
    lossless = Path(path).suffix.lower() == LOSSLESS_SUFFIX
    with atomic_output(path) as temp:
        if lossless:  # bitexact: Matroska would write random segment and track IDs into every file
            container = av.open(str(temp), mode="w", format="matroska", options={"fflags": "+bitexact"})
        else:
            container = av.open(str(temp), mode="w", format="mp4")
        writer = VideoWriter(container, fps, crf, preset, audio, lossless)
        try:
            yield writer
            writer.flush()
        finally:
            container.close()
        if writer.frames_written == 0:
            raise MimicMotionError(f"no frames to write to {path}")
