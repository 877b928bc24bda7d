"""`mimicmotion plot`: Y-T slices and frame-difference strips of synthetic videos."""

import numpy as np
from helpers.eval_media import uniform_frames, write_frames, write_mp4
from PIL import Image

from mimicmotion.cli import main
from mimicmotion.windows import save_window_layout


def read_png(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def step_video(frames=12, step_at=5, height=48, width=64, x=20):
    """A vertical gradient; from frame `step_at` on, a band of columns around x turns bright."""
    gradient = np.linspace(20, 100, height)[:, None, None] * np.ones((1, width, 3))
    video = []
    for t in range(frames):
        frame = gradient.copy()
        if t >= step_at:
            frame[:, x - 4 : x + 4] += 120
        video.append(frame.astype(np.uint8))
    return video


def test_yt_slice_shows_a_step_at_its_frame(tmp_path):
    k, x = 5, 20
    frames = step_video(step_at=k, x=x)
    video = write_mp4(tmp_path / "step.mp4", frames)
    out = tmp_path / "slice.png"

    assert main(["plot", "yt-slice", str(video), "--x", str(x), "--out", str(out)]) == 0

    image = read_png(out)
    assert image.shape == (48, 12, 3)  # rows y, columns t
    column_means = image.mean(axis=(0, 2))
    jumps = np.diff(column_means)
    assert int(np.argmax(jumps)) + 1 == k  # the step lies between columns k-1 and k
    assert jumps.max() > 100 and np.abs(np.delete(jumps, k - 1)).max() < 5
    # each column is the column x of its frame (up to H.264 rounding)
    assert np.abs(image[:, k + 2] - frames[k + 2][:, x]).max() <= 6


def test_yt_slice_columns_are_exact_frame_columns(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (10, 7, 3), dtype=np.uint8) for _ in range(4)]
    video = write_frames(tmp_path / "frames", frames)
    out = tmp_path / "slice.png"

    assert main(["plot", "yt-slice", str(video), "--x", "3", "--time-scale", "2", "--out", str(out)]) == 0

    image = read_png(out)
    expected = np.repeat(np.stack([f[:, 3] for f in frames], axis=1), 2, axis=1)
    np.testing.assert_array_equal(image, expected)


def test_yt_slice_marks_window_boundaries_below_the_slice(tmp_path):
    frames = uniform_frames(range(0, 70, 10), height=16, width=16)  # 7 video frames
    video = write_frames(tmp_path / "clip", frames)
    save_window_layout(tmp_path / "clip.windows.json", [[0, 1, 2, 3, 4], [0, 4, 5, 6, 7]], 8)
    out = tmp_path / "slice.png"

    assert main(["plot", "yt-slice", str(video), "--out", str(out)]) == 0

    image = read_png(out)
    assert image.shape[0] > 16 and image.shape[1] == 7
    marks = image[-1]
    red = (marks[:, 0] > 200) & (marks[:, 1] < 80)
    # boundary transitions 2->3 and 3->4 are marked under columns 3 and 4
    assert np.flatnonzero(red).tolist() == [3, 4]
    np.testing.assert_array_equal(image[:16], np.stack([f[:, 8] for f in frames], axis=1))


def test_frame_difference_strip_shows_changes_and_boundaries(tmp_path):
    levels = [30, 30, 30, 70, 110, 110, 110]  # changes at transitions 2->3 and 3->4
    video = write_frames(tmp_path / "clip", uniform_frames(levels, height=40, width=40))
    save_window_layout(tmp_path / "clip.windows.json", [[0, 1, 2, 3, 4], [0, 4, 5, 6, 7]], 8)
    out = tmp_path / "diff.png"

    assert main(["plot", "frame-diff", str(video), "--out", str(out), "--height", "40", "--gain", "4"]) == 0

    image = read_png(out)
    assert image.shape == (40, 6 * 40 + 5 * 2, 3)  # six thumbnails with 2-pixel gaps
    thumbnails = [image[:, i * 42 : i * 42 + 40] for i in range(6)]
    centres = [t[10:30, 10:30].mean() for t in thumbnails]
    np.testing.assert_allclose(centres, [0, 0, 160, 160, 0, 0], atol=1)  # |40| * gain 4
    framed = [bool(t[0, 20, 0] > 200 and t[0, 20, 1] < 80) for t in thumbnails]
    assert framed == [False, False, True, True, False, False]


def test_a_column_outside_the_frame_is_reported(tmp_path, capsys):
    video = write_frames(tmp_path / "clip", uniform_frames([1, 2, 3], height=16, width=16))
    out = tmp_path / "slice.png"
    assert main(["plot", "yt-slice", str(video), "--x", "99", "--out", str(out)]) == 2
    assert "column 99 is outside the frame width 16" in capsys.readouterr().err
    assert not out.exists()


def test_an_unknown_image_format_is_reported(tmp_path, capsys):
    video = write_frames(tmp_path / "clip", uniform_frames([1, 2, 3], height=16, width=16))
    out = tmp_path / "slice.gif"
    assert main(["plot", "yt-slice", str(video), "--out", str(out)]) == 2
    assert "must end in .png" in capsys.readouterr().err
    assert not out.exists()


def test_plot_of_a_missing_video_is_reported(tmp_path, capsys):
    assert main(["plot", "frame-diff", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "d.png")]) == 2
    assert "none.mp4" in capsys.readouterr().err
