"""How often the MediaPipe backend finds the hands of a visible wrist, before and after the second chance.

    python benchmarks/bench_hands.py [--data ../shared/data] [--max-frames N]

For the dance video at stride 1 and the GIF, one pass through the backend's own pieces (Holistic in
tracking mode on frames scaled as the backend scales them, then `rescue_hands` for the hands Holistic
missed) gives, per side:
- the frames where the wrist is visible (pose visibility > 0.5), and among them those where the pose's
  hand landmarks (wrist, pinky, index, thumb) also lie inside the frame: a hand outside the picture
  cannot be found, and is not invented;
- the share of those frames where the hand is found by Holistic alone ("before") and with the second
  chance ("after");
- how well the hands found agree with the pose model's own hand landmarks: the median over frames of the
  mean distance, in forearm lengths, between the pose's pinky, index and thumb landmarks and the hand
  points they stand for (the pinky's and index finger's bases, the thumb's middle joint: 17, 5, 2), for
  the hands the second chance found and, as the yardstick, for Holistic's own;
- milliseconds per frame for Holistic and for the second chance (one tracker on one core; the backend
  runs one tracker per core on segments of a video).
The whole `mimicmotion pose` command's speed is measured by bench_pose.py. Prints figures; passes or
fails nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from mimicmotion.pose.hand_rescue import ARM_FROM_POSE, HandRescue
from mimicmotion.pose.mediapipe_backend import (
    MediaPipeBackend,
    landmarks_to_points,
    pose_landmarks,
    rescue_hands,
)
from mimicmotion.pose.quiet import native_logs_silenced
from mimicmotion.pose.types import LEFT_HAND, RIGHT_HAND
from mimicmotion.video import iter_frames, probe_video

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MEDIA = ("dance_1080x1920_24fps.mp4", "dance_576x1024_19f.gif")
PARTS = {"left": LEFT_HAND, "right": RIGHT_HAND}
POSE_HAND_POINTS = [17, 5, 2]  # hand points where the pose model puts its pinky, index, thumb landmarks


def measure(path: Path, max_frames: int | None) -> dict:
    backend = MediaPipeBackend(workers=1)
    info = probe_video(path)
    size = backend.decode_size(info.width, info.height)
    rows = []  # per frame: pose landmarks (33, 3), hands before, hands after
    holistic_seconds = rescue_seconds = 0.0
    with native_logs_silenced():
        holistic, rescue = backend._new_graph(static=False), HandRescue()
        for _, frame in iter_frames(path, max_frames=max_frames, size=size):
            frame = backend._fit(frame)
            start = time.perf_counter()
            results = holistic.process(frame)
            points = landmarks_to_points(results)
            holistic_seconds += time.perf_counter() - start
            if points is None:
                rows.append(None)
                rescue.forget()
                continue
            before = points.copy()
            start = time.perf_counter()
            rescue_hands(rescue, frame, results, points)
            rescue_seconds += time.perf_counter() - start
            pose = pose_landmarks(results)
            rows.append((pose, before, points, frame.shape[1] / frame.shape[0]))
        holistic.close()
        rescue.close()
    frames = len(rows)
    report = {"frames": frames, "holistic_ms": 1000 * holistic_seconds / frames}
    report["rescue_ms"] = 1000 * rescue_seconds / frames
    for side, part in PARTS.items():
        report[side] = side_figures([row for row in rows if row is not None], side, part)
    return report


def side_figures(rows: list, side: str, part: slice) -> dict:
    elbow, wrist, *hand = ARM_FROM_POSE[side]
    visible = inside = found_before = found_after = found_inside_before = found_inside_after = 0
    pairs_holistic, pairs_rescued = [], []  # (hand points (21, 2), pose hand landmarks (3, 2), forearm)
    for pose, before, after, aspect in rows:
        if pose[wrist, 2] <= 0.5:
            continue
        scale = np.array([aspect, 1.0])  # normalised coordinates -> lengths in frame heights
        in_frame = bool(np.all((pose[[wrist, *hand], :2] >= 0) & (pose[[wrist, *hand], :2] < 1)))
        had, has = before[part, 2].max() > 0, after[part, 2].max() > 0
        visible += 1
        inside += in_frame
        found_before += had
        found_after += has
        found_inside_before += had and in_frame
        found_inside_after += has and in_frame
        forearm = float(np.linalg.norm((pose[wrist, :2] - pose[elbow, :2]) * scale))
        pair = (after[part, :2] * scale, pose[hand, :2] * scale, forearm)
        (pairs_holistic if had else pairs_rescued if has else []).append(pair)

    def median_distance(pairs: list) -> float:
        distances = [np.linalg.norm(h[POSE_HAND_POINTS] - p, axis=1).mean() / f for h, p, f in pairs]
        return float(np.median(distances)) if distances else float("nan")

    return {
        "visible": visible,
        "inside": inside,
        "before": found_before / visible,
        "after": found_after / visible,
        "inside_before": found_inside_before / max(1, inside),
        "inside_after": found_inside_after / max(1, inside),
        "rescued": len(pairs_rescued),
        "distance_rescued": median_distance(pairs_rescued),
        "distance_holistic": median_distance(pairs_holistic),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--max-frames", type=int, default=None)
    args = parser.parse_args()
    for name in MEDIA:
        if not (args.data / name).is_file():
            raise SystemExit(f"test media not found: {args.data / name}")
        report = measure(args.data / name, args.max_frames)
        print(
            f"{name}: {report['frames']} frames at stride 1; Holistic {report['holistic_ms']:.1f} ms/frame, "
            f"second chance {report['rescue_ms']:.1f} ms/frame (averaged over all frames, one core)"
        )
        for side in PARTS:
            s = report[side]
            print(
                f"  {side} hand: wrist visible in {s['visible']} frames, found {100 * s['before']:.0f}% -> "
                f"{100 * s['after']:.0f}%; wrist and hand inside the frame in {s['inside']}, found "
                f"{100 * s['inside_before']:.1f}% -> {100 * s['inside_after']:.1f}%; {s['rescued']} found by "
                f"the second chance; distance to the pose's pinky/index/thumb {s['distance_rescued']:.3f} "
                f"forearm (Holistic's own hands {s['distance_holistic']:.3f})"
            )


if __name__ == "__main__":
    main()
