"""The MediaPipe backend: the mapping of Holistic's results, and on the real test media (those tests skip
when ../shared/data is absent)."""

from types import SimpleNamespace

import numpy as np
import pytest

from mimicmotion.pose import detect_poses, extract_poses, get_backend, prepare_reference
from mimicmotion.pose.mediapipe_backend import BODY_FROM_MEDIAPIPE, FACE_FROM_MESH, landmarks_to_points
from mimicmotion.pose.types import BODY, FACE, LEFT_HAND, MISSING, RIGHT_HAND
from mimicmotion.video import iter_frames, read_image

DANCE = "dance_1080x1920_24fps.mp4"


@pytest.fixture(scope="module")
def backend(mediapipe):
    with get_backend("mediapipe") as detector:
        yield detector


def test_mappings_are_well_formed():
    assert len(FACE_FROM_MESH) == 68 and len(set(FACE_FROM_MESH)) == 68
    assert all(0 <= i < 468 for i in FACE_FROM_MESH)
    assert len(BODY_FROM_MEDIAPIPE) == 18 and BODY_FROM_MEDIAPIPE[1] is None


def _landmarks(xy, visibility=None):
    """A fake Holistic landmark list: what `landmarks_to_points` reads of MediaPipe's protobuf."""
    visibility = np.zeros(len(xy)) if visibility is None else visibility
    marks = zip(xy, visibility, strict=True)
    return SimpleNamespace(landmark=[SimpleNamespace(x=x, y=y, visibility=v) for (x, y), v in marks])


def _fake_results(left_hand_x=None, right_hand_x=None, face=True):
    """Holistic results with known visibilities: left hand landmarks (15, 17, 19, 21) 1.0, 0.8, 0.6, 0.6;
    right hand landmarks (16, 18, 20, 22) all 0.6; ears (7, 8) 0.45, the other face landmarks 1.0, the
    rest of the body 0.9. Hands are 21 points at the x given (one value or 21), y = 0.5."""
    visibility = np.full(33, 0.9)
    visibility[[15, 17, 19, 21]] = (1.0, 0.8, 0.6, 0.6)
    visibility[[16, 18, 20, 22]] = 0.6
    visibility[:11] = 1.0
    visibility[[7, 8]] = 0.45
    pose_xy = np.column_stack([np.linspace(0.2, 0.8, 33), np.linspace(0.1, 0.9, 33)])

    def hand(x):
        return None if x is None else _landmarks(np.column_stack([np.broadcast_to(x, 21), np.full(21, 0.5)]))

    mesh = np.column_stack([np.linspace(0.4, 0.6, 468), np.full(468, 0.2)])
    return SimpleNamespace(
        pose_landmarks=_landmarks(pose_xy, visibility),
        left_hand_landmarks=hand(left_hand_x),
        right_hand_landmarks=hand(right_hand_x),
        face_landmarks=_landmarks(mesh) if face else None,
    )


def test_hand_and_face_confidence_is_their_pose_visibility_times_the_share_in_the_frame():
    # right hand: 7 of its 21 points past the right edge of the frame
    right_x = np.where(np.arange(21) < 7, 1.2, 0.3)
    points = landmarks_to_points(_fake_results(left_hand_x=0.7, right_hand_x=right_x))
    left, right, face = points[LEFT_HAND], points[RIGHT_HAND], points[FACE]
    np.testing.assert_allclose(left[:, 2], 0.75, atol=1e-6)  # mean of 1.0, 0.8, 0.6, 0.6; all inside
    np.testing.assert_allclose(right[:, 2], 0.6 * 14 / 21, atol=1e-6)
    np.testing.assert_allclose(face[:, 2], (9 * 1.0 + 2 * 0.45) / 11, atol=1e-6)
    # the points themselves are kept as Holistic gave them, those outside the frame included
    np.testing.assert_allclose(left[:, 0], 0.7, atol=1e-6)
    np.testing.assert_allclose(right[:, 0], right_x, atol=1e-6)
    # the body keeps the visibility of each landmark: right wrist (OpenPose 4) <- 16, left (7) <- 15
    body = points[BODY]
    assert body[4, 2] == pytest.approx(0.6) and body[7, 2] == pytest.approx(1.0)
    assert body[2, 2] == pytest.approx(0.9) and body[0, 2] == pytest.approx(1.0)


def test_hand_not_found_or_wholly_outside_the_frame_is_absent():
    points = landmarks_to_points(_fake_results(left_hand_x=None, right_hand_x=-0.1, face=False))
    for part in (LEFT_HAND, RIGHT_HAND, FACE):
        assert np.all(points[part, 2] == 0) and np.all(points[part, :2] == MISSING)
    assert np.all(points[BODY, 2] > 0)  # the body is there all the same


@pytest.mark.usefixtures("mediapipe")
@pytest.mark.slow
def test_body_is_found_in_at_least_95_percent_of_the_dance_frames(shared_data):
    # all 288 frames at the default stride 2: 144 frames
    seq = detect_poses(shared_data / "dance_1080x1920_24fps.mp4", stride=2, progress=False)
    assert len(seq) == 144 and seq.frame_indices.tolist() == list(range(0, 288, 2))
    assert (seq.width, seq.height, seq.fps) == (1080, 1920, 24.0)
    assert seq.has_person().mean() >= 0.95
    # a standing dancer: head above hips above ankles wherever they are clearly seen
    body = seq.body
    clear = (body[:, [0, 8, 10], 2] > 0.5).all(axis=1)
    assert clear.mean() > 0.5
    assert np.all(body[clear, 0, 1] < body[clear, 8, 1]) and np.all(body[clear, 8, 1] < body[clear, 10, 1])
    assert (seq.face[..., 2] > 0).any(axis=1).mean() > 0.8


@pytest.mark.usefixtures("mediapipe")
def test_gif_clip_is_read_and_detected(shared_data):
    seq = extract_poses(shared_data / "dance_576x1024_19f.gif", stride=1, progress=False)
    assert len(seq) == 19 and seq.frame_indices.tolist() == list(range(19))
    assert (seq.width, seq.height) == (576, 1024)
    assert seq.has_person().all()  # filled where needed: every frame has a pose


def test_reference_pose_has_the_person_facing_the_camera(shared_data, backend):
    image = prepare_reference(read_image(shared_data / "ref_demo1.jpg"), 576)
    seq = backend.detect_image(image)
    body = seq.body[0]
    assert (seq.width, seq.height) == (576, 1024)
    assert (body[[0, 1, 2, 5, 8, 11], 2] > 0.5).all()
    # her right side is on the image's left
    assert body[2, 0] < body[5, 0] and body[8, 0] < body[11, 0] and body[14, 0] < body[15, 0]
    assert body[1, 0] == pytest.approx((body[2, 0] + body[5, 0]) / 2) and body[1, 2] == 1.0
    # face: iBUG jaw runs from her right temple (image left) over the chin to the left temple
    face = seq.face[0]
    assert (face[:, 2] > 0.95).all()  # a face in full view: its pose landmarks are clearly visible
    assert face[0, 0] < face[8, 0] < face[16, 0] and face[8, 1] > face[27, 1] > face[19, 1]
    assert face[36, 0] < face[39, 0] < face[42, 0] < face[45, 0]  # eye corners left to right
    assert abs(face[30, 0] - body[0, 0]) < 0.02 and abs(face[30, 1] - body[0, 1]) < 0.02  # nose tip


def test_image_without_a_person_has_no_pose(backend):
    seq = backend.detect_image(np.full((512, 512, 3), 90, np.uint8))
    assert not seq.has_person().any()
    assert np.all(seq.body[..., 2] == 0)


def _detect_stretch(backend, video, start, count):
    """{source frame: (128, 3) points} for `count` frames from `start`, tracked as in a full run."""
    size = backend.decode_size(1080, 1920)
    frames = list(iter_frames(video, start=start, max_frames=count, size=size))
    people = backend.detect_frames((frame for _, frame in frames), video=True)  # (1, 128, 3) each
    return {index: found[0] for (index, _), found in zip(frames, people, strict=True)}


def test_a_hand_half_outside_the_frame_is_dimmer_than_one_in_view(shared_data, backend):
    # Frames 0-1 (measured): her left hand (image right) reaches past the right edge, about half of it
    # outside; her right hand and her face are in full view.
    poses = _detect_stretch(backend, shared_data / DANCE, 0, 2)
    for points in poses.values():
        left, right, face = points[LEFT_HAND], points[RIGHT_HAND], points[FACE]
        assert (left[:, 2] > 0).all() and left[:, 0].max() > 1  # found, and partly past the edge
        assert (right[:, 2] > 0.9).all() and (face[:, 2] > 0.95).all()
        assert left[:, 2].max() < 0.6 * right[:, 2].min()


def test_a_hand_fades_as_it_leaves_the_frame(shared_data, backend):
    # Frames 222-235 (measured): her left hand is in view in 229-231, slides past the right edge over
    # 232-234 and is lost by Holistic in 235, where the second chance follows what is left of it in view
    # (0.96, 0.27, 0.10 in 231, 234, 235; 0.30 in 235 with PyAV 14's decoder). The stretch starts a few
    # frames early so that the tracker has settled as in a full run.
    poses = _detect_stretch(backend, shared_data / DANCE, 222, 14)
    left = {index: points[LEFT_HAND] for index, points in poses.items()}
    in_view = [left[i][:, 2].min() for i in (229, 230, 231)]
    assert min(in_view) > 0.85
    leaving = left[234]
    assert leaving[:, 0].max() > 1  # partly outside the frame, yet found
    assert 0 < leaving[:, 2].max() < 0.5 * min(in_view)
    assert left[235][:, 2].max() < 0.5 * min(in_view)  # Holistic lost it; what the second chance finds is dim
    assert all((points[FACE, 2] > 0.95).all() for points in poses.values())  # her face stays in view
