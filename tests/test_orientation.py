"""Phone media: photos turned by their EXIF orientation, videos by their display matrix, everywhere."""

import av
import numpy as np
import pytest
from PIL import Image

from mimicmotion.video import iter_frames, probe_video, read_image

ORIENTATION = 0x0112  # the EXIF tag

# How a camera stores an upright picture for each EXIF orientation it writes when the phone is turned
# (the tag then tells the viewer how to turn the stored pixels back): 3 upside down, 6 turned a quarter
# counter-clockwise (the viewer turns it clockwise), 8 turned clockwise.
STORED = {
    1: lambda upright: upright,
    3: lambda upright: np.rot90(upright, 2),
    6: lambda upright: np.rot90(upright, 1),
    8: lambda upright: np.rot90(upright, -1),
}


def _upright_picture(height: int = 48, width: int = 32) -> np.ndarray:
    """An asymmetric picture: a gradient, with a white block in the top-left corner."""
    y, x = np.mgrid[0:height, 0:width]
    picture = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    picture[:8, :6] = 255
    return picture


def _save_with_orientation(pixels: np.ndarray, path, orientation: int) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    Image.fromarray(np.ascontiguousarray(pixels)).save(path, exif=exif)


@pytest.mark.parametrize("orientation", sorted(STORED))
def test_photos_are_turned_upright_by_their_exif_orientation(tmp_path, orientation):
    upright = _upright_picture()
    path = tmp_path / "photo.png"  # lossless, so the pixels can be compared exactly
    _save_with_orientation(STORED[orientation](upright), path, orientation)
    assert np.array_equal(read_image(path), upright)


def _write_video(path, frames: list[np.ndarray], rotation: int = 0) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)  # degrees counter-clockwise, as the display matrix says
        for frame in frames:
            container.mux(
                stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24"))
            )
        container.mux(stream.encode(None))


writes_rotation = pytest.mark.skipif(
    not hasattr(av.video.stream.VideoStream, "set_display_rotation"),
    reason="this PyAV cannot write a display matrix (17.1 and later can): no rotated video to test with",
)


@writes_rotation
def test_videos_are_turned_upright_by_their_display_matrix(tmp_path):
    upright = [np.roll(_upright_picture(64, 48), shift, axis=0) for shift in (0, 2, 4)]
    # a phone held upright records the sensor's landscape pixels and a quarter turn to undo on display
    _write_video(tmp_path / "phone.mp4", [np.rot90(frame, -1) for frame in upright], rotation=90)
    _write_video(tmp_path / "upright.mp4", upright)

    info = probe_video(tmp_path / "phone.mp4")
    assert (info.width, info.height, info.num_frames) == (48, 64, 3)
    phone = [frame for _, frame in iter_frames(tmp_path / "phone.mp4")]
    plain = [frame for _, frame in iter_frames(tmp_path / "upright.mp4")]
    for got, expected, original in zip(phone, plain, upright, strict=True):
        assert got.shape == (64, 48, 3)
        # the same picture as the upright recording, up to what H.264 does to each layout
        assert np.abs(got.astype(int) - expected).mean() < 3
        assert np.abs(got.astype(int) - original).mean() < 3
    # scaled while decoding: the size asked for is the upright one
    small = [frame for _, frame in iter_frames(tmp_path / "phone.mp4", size=(24, 32))]
    assert small[0].shape == (32, 24, 3)
    assert small[0][:3, :2].mean() > 200  # the white block stays in the top-left corner


@pytest.mark.usefixtures("mediapipe")
def test_poses_of_a_turned_phone_photo_equal_those_of_the_upright_one(tmp_path, shared_data):
    from mimicmotion.pose import build_pose_frames

    upright = read_image(shared_data / "ref_demo1.jpg")
    Image.fromarray(upright).save(tmp_path / "upright.png")
    _save_with_orientation(STORED[6](upright), tmp_path / "phone.png", 6)
    pictures = []
    for name in ("upright.png", "phone.png"):
        reference, frames, poses = build_pose_frames(
            tmp_path / name,
            shared_data / "dance_576x1024_19f.gif",
            resolution=256,
            max_frames=2,
            progress=False,
        )
        with frames:
            pictures.append((reference, frames[list(range(len(frames)))].numpy(), poses.points()))
    (ref_a, frames_a, points_a), (ref_b, frames_b, points_b) = pictures
    assert np.array_equal(ref_a, ref_b)
    assert np.array_equal(points_a, points_b) and np.array_equal(frames_a, frames_b)


@writes_rotation
@pytest.mark.usefixtures("mediapipe")
def test_poses_of_a_turned_phone_video_match_those_of_the_upright_one(tmp_path, shared_data):
    from mimicmotion.pose import detect_poses

    upright = [
        frame
        for _, frame in iter_frames(shared_data / "dance_1080x1920_24fps.mp4", max_frames=8, size=(288, 512))
    ]
    _write_video(tmp_path / "phone.mp4", [np.rot90(frame, 1) for frame in upright], rotation=-90)
    _write_video(tmp_path / "upright.mp4", upright)
    phone = detect_poses(tmp_path / "phone.mp4", "mediapipe", stride=1, progress=False)
    plain = detect_poses(tmp_path / "upright.mp4", "mediapipe", stride=1, progress=False)
    assert (phone.width, phone.height) == (plain.width, plain.height) == (288, 512)
    body_a, body_b = phone.body, plain.body
    both = (body_a[..., 2] > 0.5) & (body_b[..., 2] > 0.5)
    assert both.mean() > 0.8
    # the same points (normalised coordinates), up to H.264's losses on the two layouts
    assert np.median(np.abs(body_a[..., :2] - body_b[..., :2])[both]) < 0.01
