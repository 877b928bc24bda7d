"""Starting the app: the output folder made and cleaned, the page built, Gradio's server on a free port of
the chosen host, the address printed."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mimicmotion.app.jobs import JobStore
from mimicmotion.app.media import Limits
from mimicmotion.config import EXAMPLES

log = logging.getLogger("mimicmotion")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def exposure_warning(host: str) -> str | None:
    """What serving on `host` exposes, when it is not this machine alone."""
    if host in LOCAL_HOSTS:
        return None
    return (
        f"warning: serving on {host}: whoever can reach this machine's port can use its GPU and see every "
        "job's files; an ssh tunnel to 127.0.0.1 is safer (see the README)"
    )


def free_port(host: str) -> int:
    """A port nothing listens on now (the system's choice)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def serve(
    *,
    host: str,
    port: int | None,
    share: bool,
    outputs: Path,
    examples: Sequence[Path],
    limits: Limits,
    model: dict[str, Any],
) -> None:
    """Serve the app until interrupted. `model`: the AnimateSettings fields that choose the weights and
    the device (loaded at the first generation)."""
    import gradio as gr

    from mimicmotion.animate import shared_loader
    from mimicmotion.app.ui import AppState, build

    store = JobStore(outputs)
    store.clean()
    folders = [EXAMPLES, *(Path(folder).resolve() for folder in examples)]
    app = AppState(store=store, limits=limits, model=model, examples=folders, load=shared_loader())
    # example files are served as they are (they are meant to be seen); outputs only through the app
    gr.set_static_paths([str(folder) for folder in folders])
    page = build(app)
    page.queue(default_concurrency_limit=1)
    warning = exposure_warning(host)
    if warning:
        print(warning, file=sys.stderr)
    port = port or free_port(host)
    page.launch(
        server_name=host,
        server_port=port,
        share=share,
        inbrowser=False,
        allowed_paths=[str(store.root), *(str(folder) for folder in folders)],
        # in bytes, MB counted as Gradio's message counts them (2^20); a bigger file is refused in the page
        max_file_size=int(limits.max_upload_mb * 2**20),
        quiet=True,
        prevent_thread_lock=True,
    )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"mimicmotion app: serving on http://{shown}:{port} (outputs in {store.root}; Ctrl-C stops it)",
          flush=True)  # fmt: skip
    if share and getattr(page, "share_url", None):
        print(f"mimicmotion app: public link {page.share_url}", flush=True)
    try:
        page.block_thread()
    finally:
        page.close()
