"""The MediaPipe backend on the real test media (skipped when ../shared/data is absent)."""

import numpy as np
import pytest

from mimicmotion.pose import detect_poses, extract_poses, get_backend, prepare_reference
from mimicmotion.pose.mediapipe_backend import BODY_FROM_MEDIAPIPE, FACE_FROM_MESH
from mimicmotion.video import read_image


@pytest.fixture(scope="module")
def backend():
    with get_backend("mediapipe") as detector:
        yield detector


def test_mappings_are_well_formed():
    assert len(FACE_FROM_MESH) == 68 and len(set(FACE_FROM_MESH)) == 68
    assert all(0 <= i < 468 for i in FACE_FROM_MESH)
    assert len(BODY_FROM_MEDIAPIPE) == 18 and BODY_FROM_MEDIAPIPE[1] is None


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
    assert (face[:, 2] == 1).all()
    assert face[0, 0] < face[8, 0] < face[16, 0] and face[8, 1] > face[27, 1] > face[19, 1]
    assert face[36, 0] < face[39, 0] < face[42, 0] < face[45, 0]  # eye corners left to right
    assert abs(face[30, 0] - body[0, 0]) < 0.02 and abs(face[30, 1] - body[0, 1]) < 0.02  # nose tip


def test_image_without_a_person_has_no_pose(backend):
    seq = backend.detect_image(np.full((512, 512, 3), 90, np.uint8))
    assert not seq.has_person().any()
    assert np.all(seq.body[..., 2] == 0)
