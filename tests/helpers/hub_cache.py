"""Files placed in a Hugging Face cache folder, as if downloaded (the tests never reach the hub)."""

from __future__ import annotations

from pathlib import Path


def cache_file(hub_cache: Path, repo_id: str, filename: str, data: bytes) -> Path:
    """Put a file into a Hugging Face cache folder in its layout (refs/main -> snapshots/<commit>/...)."""
    repo = hub_cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    path = repo / "snapshots" / commit / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
