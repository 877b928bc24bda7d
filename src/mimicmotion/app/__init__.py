"""`mimicmotion app`: a local web app (Gradio) for the whole job: inputs, pose preview, generation,
history.

The pieces that do not need Gradio live in their own modules and are tested without a browser:
- `form`: the Advanced section's fields, derived from the `AnimateSettings` declarations;
- `media`: what an input file is (size, frames, duration), the limits, the folders files come from;
- `jobs`: the output folder: one folder per finished job, with its settings as JSON; the history;
- `work`: the pose preview and the generation, with progress per stage and cancellation.
`ui` builds the page with Gradio and `server` starts it; Gradio is imported only there.
"""

from __future__ import annotations

from mimicmotion.errors import MimicMotionError

INSTALL_HINT = "pip install 'mimicmotion[app]'"


def require_gradio() -> None:
    """A MimicMotionError saying how to install the app when Gradio is missing."""
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        raise MimicMotionError(f"the app needs Gradio, which is not installed: {INSTALL_HINT}")
