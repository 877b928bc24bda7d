"""The recipe's tables and pictures, from the scores the runs left behind.

Every figure is a mean over the held-out cases; where several seeds were trained, the table gives the
mean over seeds and, in brackets, each seed's value, so the spread is visible next to the differences.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .world import WorldSize, load_case, to_sequence

METRICS = (("psnr", "PSNR"), ("ssim", "SSIM"), ("hand_psnr", "hand PSNR"), ("hand_ssim", "hand SSIM"),
           ("iou", "silhouette IoU"))  # fmt: skip


def repeated_reference_scores(out: Path) -> dict[str, dict[str, float]]:
    """Per test case: the reference repeated against the truth; (keys "vae_") the reference's VAE round
    trip repeated against the truth's; (keys "ceiling_") the truth's VAE round trip against the truth,
    about the best a model decoded by this VAE can score."""
    from diffusers import AutoencoderKLTemporalDecoder

    from . import measure

    vae = AutoencoderKLTemporalDecoder.from_pretrained(out / "vae").eval()
    result = {}
    for path in sorted((out / "world" / "test").glob("*.npz")):
        case = load_case(path)
        vae_case = measure.through_vae(vae, case)
        repeated = measure.scores(measure.repeated_reference(vae_case), vae_case)
        ceiling = measure.scores(measure.Generated(vae_case.frames[1:]), case)
        result[case.name] = {
            **measure.scores(measure.repeated_reference(case), case),
            **{f"vae_{key}": value for key, value in repeated.items()},
            **{f"ceiling_{key}": value for key, value in ceiling.items()},
        }
    return result


def case_mean(per_case: dict[str, dict[str, float]], metric: str) -> float:
    return float(np.mean([scores[metric] for scores in per_case.values()]))


def cell(values: list[float], digits: int) -> str:
    mean = f"{np.mean(values):.{digits}f}"
    if len(values) == 1:
        return mean
    return f"{mean} ({' / '.join(f'{v:.{digits}f}' for v in values)})"


def digits(metric: str) -> int:
    return 2 if "psnr" in metric or metric == "flicker" else 3


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def row(per_seed: list[dict], prefix: str) -> list[str]:
    """One table row: every metric under `prefix`, mean over seeds with each seed's value."""
    return [cell([case_mean(scores, prefix + m) for scores in per_seed], digits(m)) for m, _ in METRICS]


def held_out_rows(main: list[dict], baseline: dict, prefix: str) -> list[list[str]]:
    """Model, PoseNet zeroed, reference repeated and the model's margin over the better of the two
    baselines, for the metrics under `prefix` ("": true frames; "vae_": their VAE round trip)."""
    rows = [
        ["trained model", *row([r["model"] for r in main], prefix)],
        ["same model, PoseNet output zeroed", *row([r["pose_zeroed"] for r in main], prefix)],
        ["reference repeated", *row([baseline], prefix)],
    ]
    margins = []
    for metric, _ in METRICS:
        key = prefix + metric
        model = [case_mean(r["model"], key) for r in main]
        best_baseline = [max(case_mean(r["pose_zeroed"], key), case_mean(baseline, key)) for r in main]
        margins.append(cell([a - b for a, b in zip(model, best_baseline, strict=True)], digits(metric)))
    rows.append(["margin over the better baseline", *margins])
    return rows


def write(out: Path, arms, results: dict, baseline: dict, stages: dict, jobs: dict) -> str:
    """Write OUT/results.md, OUT/results.json and the pictures; return the text. `stages`: minutes per
    stage of the recipe; `jobs`: minutes of training and scoring per arm and seed."""
    seeds = sorted({seed for _, seed in results})
    main = [results[("main", s)] for s in seeds if ("main", s) in results]
    header = ["", *(name for _, name in METRICS)]
    times = ", ".join(f"{name} {value:.1f}" for name, value in stages.items())
    parts = [f"Recipe time: {sum(stages.values()):.1f} min ({times}). Seeds: {len(seeds)}; figures are means "
             "over the held-out cases, with each seed's value in brackets.\n"]  # fmt: skip

    if main:
        rows = held_out_rows(main, baseline, "")
        rows.append(["the truth's VAE round trip (the ceiling)", *row([baseline], "ceiling_")])
        parts += ["### Held-out identities and motions, against the true frames", table(header, rows), ""]
        rows = held_out_rows(main, baseline, "vae_")
        parts += ["### The same, against the truth's VAE round trip (what training is responsible for)",
                  table(header, rows), ""]  # fmt: skip

    rows = []
    for arm in arms:
        runs = [results[(arm.name, s)] for s in seeds if (arm.name, s) in results]
        if runs:
            rows.append([arm.what, *row([r["model"] for r in runs], "vae_")])
    title = "### Ablations (same budget and seeds; against the truth's VAE round trip)"
    parts += [title, table(header, rows), ""]

    if main and any(main[0]["fusion"][f] for f in main[0]["fusion"]):
        fusion_header = ["fusion", "boundary flicker", "PSNR", "SSIM", "silhouette IoU"]
        rows = []
        for fusion in main[0]["fusion"]:
            rows.append([fusion, *(cell([case_mean(r["fusion"][fusion], m) for r in main], digits(m))
                                   for m in ("flicker", "psnr", "ssim", "iou"))])  # fmt: skip
        parts += [
            "### Fusion of overlapping windows (long held-out videos, main model)",
            table(fusion_header, rows),
            "",
        ]

    text = "\n".join(parts)
    (out / "results.md").write_text(text)
    serialisable = {f"{arm}-seed{seed}": value for (arm, seed), value in results.items()}
    minutes = {"stages": stages, "jobs": jobs}
    everything = {"runs": serialisable, "reference_repeated": baseline, "minutes": minutes}
    (out / "results.json").write_text(json.dumps(everything, indent=1))
    if main:
        frames_picture(out)
        fusion_slices(out)
    return text


def frames_picture(out: Path, times=(2, 8, 14, 20)) -> Path:
    """OUT/frames.png: for two held-out cases, rows of ground truth | generated | pose picture."""
    from mimicmotion.eval.plots import write_image
    from mimicmotion.pose.render import PoseRenderer

    recipe = json.loads((out / "recipe.json").read_text())
    size = WorldSize(**recipe["size"])
    renderer = PoseRenderer(size.height, size.width, "confidence")
    rows = []
    for path in sorted((out / "world" / "test").glob("*.npz"))[:2]:
        case = load_case(path)
        generated = np.load(out / "runs" / "main-seed0" / "videos" / f"{case.name}.npy")
        poses = to_sequence(case.observed, size)
        for t in (t for t in times if t < len(generated)):
            rows.append(
                np.concatenate([case.frames[t + 1], generated[t], renderer.render(poses, t + 1)], axis=1)
            )
    columns = [np.concatenate(rows[i : i + 2], axis=0) for i in range(0, len(rows) - 1, 2)]
    return write_image(out / "frames.png", np.concatenate(columns, axis=1))


def fusion_slices(out: Path) -> Path | None:
    """OUT/fusion_yt.png: Y-T slices through the middle column of the first long case, one per fusion
    (ground truth first), window boundaries marked."""
    from mimicmotion.eval.plots import write_image, yt_slice

    cases = sorted((out / "world" / "long").glob("*.npz"))
    videos = out / "runs" / "main-seed0" / "videos"
    if not cases:
        return None
    case = load_case(cases[0])
    column = case.frames.shape[2] // 2
    slices = [yt_slice(case.frames[1:], column)]
    for fusion in ("progressive", "official", "average"):
        path = videos / f"{case.name}-{fusion}.npy"
        if path.exists():
            slices.append(yt_slice(np.load(path), column))
    gap = np.full((slices[0].shape[0], 2, 3), 255, np.uint8)
    picture = np.concatenate([part for s in slices for part in (s, gap)][:-1], axis=1)
    return write_image(out / "fusion_yt.png", np.repeat(np.repeat(picture, 2, axis=0), 2, axis=1))
