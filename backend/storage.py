"""The artifact store: a folder tree under settings.artifacts_dir holding dataset rows, adapters and models.

Paths stored in the database are relative to the root, so a deployment can move the folder (or mount the same
volume at another path in a worker container) without rewriting rows.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, relative: str) -> Path:
        """Absolute path of a stored artifact; refuses anything that escapes the store."""
        full = (self.root / relative).resolve()
        if not full.is_relative_to(self.root.resolve()):
            raise ValueError(f"artifact path escapes the store: {relative!r}")
        return full

    def new_temp(self, suffix: str = "") -> Path:
        """A fresh temporary path inside the store (same filesystem, so a later rename is atomic)."""
        tmp = self.root / "tmp"
        tmp.mkdir(exist_ok=True)
        return tmp / f"{uuid.uuid4().hex}{suffix}"

    def dataset_rows(self, dataset_id: int, version: int) -> str:
        return f"datasets/{dataset_id}/v{version}/rows.jsonl"

    def job_dir(self, job_id: int) -> str:
        return f"jobs/{job_id}"

    def put(self, src: Path, relative: str) -> Path:
        """Move a finished file into place atomically."""
        dest = self.path(relative)
        dest.parent.mkdir(parents=True, exist_ok=True)
        Path(src).replace(dest)
        return dest

    def delete(self, relative: str) -> None:
        target = self.path(relative)
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
