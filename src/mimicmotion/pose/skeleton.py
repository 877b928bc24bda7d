"""The OpenPose-18 body, the 21-point hand and how their points connect.

See docs/released-behaviour.md, Pose picture.
"""

from __future__ import annotations

BODY_NAMES = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip

NOSE, NECK = 0, 1
RIGHT_SHOULDER, LEFT_SHOULDER = 2, 5
RIGHT_WRIST, LEFT_WRIST = 4, 7

# Body limbs, 0-based, in the released drawing order. Each pair is (parent, child) in the kinematic
# tree rooted at the neck, which is the order retargeting walks them in.
BODY_LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip

# Limb and joint colours i = 0..17 as they appear in the final RGB picture.
BODY_COLORS = (
    (0, 0, 255), (0, 85, 255), (0, 170, 255), (0, 255, 255), (0, 255, 170), (0, 255, 85),
    (0, 255, 0), (85, 255, 0), (170, 255, 0), (255, 255, 0), (255, 170, 0), (255, 85, 0),
    (255, 0, 0), (255, 0, 85), (255, 0, 170), (255, 0, 255), (170, 0, 255), (85, 0, 255),
)  # fmt: skip

# Hand edges: wrist to each finger's base, then along the finger (thumb first).
HAND_EDGES = tuple(
    edge
    for base in (1, 5, 9, 13, 17)
    for edge in ((0, base), (base, base + 1), (base + 1, base + 2), (base + 2, base + 3))
)

# Keypoints used by the released linear retargeting fit: 0, 1, 2, 5, 8..17.
LINEAR_FIT_POINTS = (0, 1, 2, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17)
