"""The pose tools' additions to video.py: start offset and decode-time scaling in `iter_frames`."""

import itertools

import av
import numpy as np
import pytest
from PIL import Image

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.extract import _segments
from mimicmotion.pose.prefetch import prefetch
from mimicmotion.video import driving_frame_step, iter_frames, probe_video, video_writer


@pytest.fixture(scope="module")
def counting_video(tmp_path_factory):
    """12 frames of 64 x 48 whose brightness is 20 x frame index."""
    path = tmp_path_factory.mktemp("video") / "count.mp4"
    with video_writer(path, fps=12) as writer:
        for index in range(12):
            writer.write(np.full((48, 64, 3), 20 * index, np.uint8))
    return path


def test_start_step_and_max_frames(counting_video):
    frames = list(iter_frames(counting_video, step=2, start=5, max_frames=3))
    assert [index for index, _ in frames] == [6, 8, 10]
    assert [round(frame.mean() / 20) for _, frame in frames] == [6, 8, 10]


def test_frames_can_be_decoded_at_a_smaller_size(counting_video):
    (index, frame), *_ = iter_frames(counting_video, size=(32, 24))
    assert index == 0 and frame.shape == (24, 32, 3) and frame.dtype == np.uint8


def test_image_folder_with_start_and_size(tmp_path):
    for index in range(5):
        Image.fromarray(np.full((20, 30, 3), 40 * index, np.uint8)).save(tmp_path / f"f{index}.png")
    frames = list(iter_frames(tmp_path, step=2, start=1, size=(15, 10)))
    assert [index for index, _ in frames] == [2, 4]
    assert frames[0][1].shape == (10, 15, 3) and round(frames[1][1].mean()) == 160


def test_start_past_the_end_is_an_error(counting_video):
    with pytest.raises(MimicMotionError, match="no frames"):
        list(iter_frames(counting_video, start=50))


def test_segments_cover_all_frames_in_order():
    for total in (1, 5, 24, 144, 289):
        for parts in (1, 2, 3, 4):
            runs = _segments(total, parts)
            assert runs[0][0] == 0 and sum(count for _, count in runs) == total
            assert all(a + n == b for (a, n), (b, _) in itertools.pairwise(runs))
            assert max(n for _, n in runs) - min(n for _, n in runs) <= 1


def test_prefetch_keeps_order_and_raises_the_producers_error():
    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        raise MimicMotionError("broken video")

    with pytest.raises(MimicMotionError, match="broken video"):
        list(prefetch(failing()))


@pytest.mark.parametrize(
    ("container", "codec", "suffix"),
    [("webm", "libvpx-vp9", "webm"), ("matroska", "libx264", "mkv"), ("mov", "libx264", "mov")],
)
def test_other_containers_are_read_with_the_frame_count_and_sampling(tmp_path, container, codec, suffix):
    path = tmp_path / f"clip.{suffix}"
    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(7):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 30 * index, np.uint8), format="rgb24")
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    info = probe_video(path)
    assert (info.num_frames, info.fps, info.width, info.height) == (7, 10.0, 64, 48)
    frames = list(iter_frames(path, step=driving_frame_step(info.fps, 2)))
    assert [index for index, _ in frames] == [0, 2, 4, 6]
    assert [round(frame.mean() / 30) for _, frame in frames] == [0, 2, 4, 6]


def test_two_writers_of_one_output_never_mix_their_frames(tmp_path):
    """Two runs writing the same file at once each write their own hidden file; the output is one of
    them, whole (the last to finish), and no hidden file is left."""
    out = tmp_path / "out.mp4"
    with video_writer(out, fps=10) as first, video_writer(out, fps=10) as second:
        for _ in range(6):
            first.write(np.full((32, 32, 3), 40, np.uint8))
            second.write(np.full((32, 32, 3), 200, np.uint8))
    frames = [frame for _, frame in iter_frames(out)]
    assert len(frames) == 6 and all(
        abs(int(frame.mean()) - 40) <= 2 for frame in frames
    )  # `first` closed last
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
