"""`mimicmotion app`: the local web app (an optional extra: pip install 'mimicmotion[app]').

Only option parsing lives here; the app is `mimicmotion.app`. Gradio is imported when the app starts, so
`mimicmotion --help` does not wait for it, and a missing Gradio is one line.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mimicmotion.app.form import SERVER
from mimicmotion.config import AnimateSettings
from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import given, option, parse


@dataclass
class AppSettings:
    host: str = option(
        "127.0.0.1",
        "address to serve on; 127.0.0.1: this machine only. Another (0.0.0.0: every interface) exposes the "
        "app and its outputs to whoever can reach it",
        metavar="ADDRESS",
    )
    port: int | None = option(None, "port (default: a free one, printed)", metavar="N")
    share: bool = option(False, "also open a public gradio.live link (Gradio's share tunnel)")
    outputs: Path = option(
        Path("mimicmotion-outputs"), "folder of the finished jobs (one folder each) and their history",
        metavar="DIR",
    )  # fmt: skip
    examples: Path | None = option(
        None, "a folder of example photos and videos to offer, beside the example shipped with the package",
        metavar="DIR",
    )  # fmt: skip
    max_upload_mb: float = option(500.0, "largest file the page accepts, in MB", metavar="MB")
    max_seconds: float = option(60.0, "longest driving video a job may use, in seconds", metavar="S")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Start a local web app for the whole job: upload a photo and a dance video, preview the poses, "
        "generate with every option of `animate`, download, and see past jobs. The model is loaded at the "
        "first generation."
    )
    add_settings(parser, AppSettings)
    # the weights and the device: the declarations of `animate`, given once for every job of the app
    names = {f.name for f in AnimateSettings.__dataclass_fields__.values()}
    add_settings(parser, AnimateSettings, leave_out=names - set(SERVER), title="model")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.app import require_gradio
    from mimicmotion.app.media import Limits
    from mimicmotion.errors import MimicMotionError

    require_gradio()
    o = parse(args, AppSettings)
    if o.max_upload_mb <= 0 or o.max_seconds <= 0:
        raise MimicMotionError("--max-upload-mb and --max-seconds must be positive")
    if o.examples is not None and not o.examples.is_dir():
        raise MimicMotionError(f"--examples: no such folder {o.examples}")
    model = given(args, AnimateSettings)
    _check_model(model)
    from mimicmotion.app.server import serve

    serve(
        host=o.host,
        port=o.port,
        share=o.share,
        outputs=o.outputs,
        examples=[o.examples] if o.examples else [],
        limits=Limits(o.max_upload_mb, o.max_seconds),
        model=model,
    )
    return 0


def _check_model(model: dict) -> None:
    """The device and dtype asked for exist here: said at the start, not at the first job."""
    from mimicmotion.animate import check_device_options, execution_device

    settings = AnimateSettings(**model)
    check_device_options(settings, execution_device(settings))
