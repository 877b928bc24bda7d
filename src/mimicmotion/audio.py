"""The driving video's sound, carried into the output for the span the output shows.

The sound is decoded and re-encoded to AAC (what every mp4 player plays, whatever the source held:
AAC, MP3, Opus, Vorbis, PCM), cut to the span: from the first driving frame used to the end of the last
one. Samples keep their rate and channel layout; only the sample format becomes the encoder's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from mimicmotion.errors import MimicMotionError

AUDIO_CODEC = "aac"
AUDIO_FORMAT = "fltp"  # the sample format FFmpeg's AAC encoder takes


@dataclass(frozen=True)
class AudioSpan:
    """`duration` seconds of the first audio stream of `path`, from `start` seconds after the video's
    first frame."""

    path: Path
    start: float
    duration: float
    sample_rate: int
    layout: str


def find_audio(path: str | os.PathLike, start: float, duration: float) -> AudioSpan | None:
    """The span of `path`'s sound, or None when it has none (or is not a media file at all)."""
    path = Path(path)
    if not path.is_file() or duration <= 0:
        return None
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            rate, layout = stream.codec_context.sample_rate, stream.codec_context.layout.name
    except (av.error.FFmpegError, OSError):
        return None
    if not rate:
        return None
    return AudioSpan(path, start, duration, rate, layout)


class AudioTrack:
    """An AAC stream in an output container, filled from an `AudioSpan` once the video is written."""

    def __init__(self, container: av.container.OutputContainer, span: AudioSpan) -> None:
        self._container = container
        self._span = span
        self._stream = container.add_stream(AUDIO_CODEC, rate=span.sample_rate, layout=span.layout)

    def write(self) -> None:
        span = self._span
        resampler = av.AudioResampler(format=AUDIO_FORMAT, layout=span.layout, rate=span.sample_rate)
        end = span.start + span.duration
        written = 0  # samples, the output's clock
        try:
            with av.open(str(span.path)) as source:
                stream = source.streams.audio[0]
                video = source.streams.video[0] if source.streams.video else None
                origin = _seconds(video.start_time, video.time_base) if video is not None else 0.0
                at = 0.0  # seconds after the first video frame, for frames that carry no timestamp
                for frame in source.decode(stream):
                    if frame.pts is not None:
                        at = _seconds(frame.pts, stream.time_base) - origin
                    length = frame.samples / frame.sample_rate
                    if at >= end:
                        break
                    if at + length > span.start:
                        for piece in resampler.resample(frame):
                            written = self._encode(piece, written)
                    at += length
        except av.error.FFmpegError as error:
            raise MimicMotionError(f"cannot copy the sound of {span.path}: {error}") from None
        for piece in resampler.resample(None):
            written = self._encode(piece, written)
        self._container.mux(self._stream.encode(None))

    def _encode(self, frame: av.AudioFrame, written: int) -> int:
        frame.pts, frame.time_base = written, Fraction(1, self._span.sample_rate)
        self._container.mux(self._stream.encode(frame))
        return written + frame.samples


def _seconds(pts: int | None, time_base) -> float:
    return float(pts * time_base) if pts is not None and time_base is not None else 0.0
