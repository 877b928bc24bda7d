"""`mimicmotion evaluate`: compare generated videos with ground truth (the paper's Table 1).

Only option parsing lives here; the work is in `mimicmotion.eval.evaluate`. The metric networks
(and torch) are imported inside `run`, when a metric needs them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mimicmotion.eval.evaluate import EvalOptions
from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import option, parse


@dataclass
class EvaluateCommand:
    pred: tuple[str, ...] = option(
        (),
        "generated video or folder of videos; repeat for several methods (LABEL names the row)",
        metavar="[LABEL=]PATH",
        required=True,
        repeat=True,
    )
    gt: Path | None = option(None, "ground-truth video or folder of videos", metavar="GT", required=True)
    json: Path | None = option(
        None,
        "where to write the JSON (default: PRED/evaluation.json, X.eval.json beside a single video, or "
        "./evaluation.json for several methods)",
        metavar="OUT",
    )


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Compare generated videos with ground truth, print a table per method and the paper's Table 1 "
        "layout, and write all figures as JSON. PRED and GT are videos or image folders, or folders of them "
        "paired by name. Frames are compared over the common prefix; the prediction is resized to the "
        "ground truth's size."
    )
    add_settings(parser, EvaluateCommand)
    add_settings(parser, EvalOptions)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.errors import MimicMotionError
    from mimicmotion.eval.evaluate import check_options, evaluate, with_device
    from mimicmotion.eval.report import pair_table, results_document, summary_table, write_json
    from mimicmotion.video import check_writable

    command = parse(args, EvaluateCommand)
    preds = [_parse_pred(value) for value in command.pred]
    labels = [label for label, _ in preds]
    if len(set(labels)) != len(labels):
        raise MimicMotionError(f"method labels must differ, got {', '.join(labels)}; use LABEL=PATH")
    options = parse(args, EvalOptions)
    check_options(options)
    options = with_device(options)
    json_path = check_writable(command.json or _default_json(preds))
    methods = evaluate(preds, command.gt, options)
    for method in methods:
        print(pair_table(method), end="\n\n")
    print(summary_table(methods))
    write_json(json_path, results_document(methods, command.gt, options))
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
