"""The artifact store: a folder tree under settings.artifacts_dir holding dataset rows, adapters and models.

Paths stored in the database (and in queued inference payloads) are relative, so a deployment can move its
data folder (or mount the same volume at another path in a worker container) without rewriting rows. A stored
path takes one of three forms, turned into a folder by `resolve` and made by `to_stored`, nowhere else:

- `jobs/3/final`: relative to the artifact store (dataset rows, trained adapters and models);
- `models:SmolLM2-135M-Instruct`: relative to AFINA_HOME/models (the bundled models prepared there);
- `/srv/llama`: absolute, for a folder outside the studio's data that a user registered where it lies.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Protocol

MODELS_PREFIX = "models:"


class _Dirs(Protocol):  # backend.config.Settings, or anything with the same two folders
    artifacts_dir: Path
    models_dir: Path


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


def _within(root: Path, relative: str) -> Path:
    full = (root / relative).resolve()
    if not full.is_relative_to(root.resolve()):
        raise ValueError(f"stored path escapes {root}: {relative!r}")
    return full


def resolve(settings: _Dirs, stored: str) -> Path:
    """The folder or file a stored path names on this machine (see the module docstring for the forms)."""
    if stored.startswith(MODELS_PREFIX):
        return _within(Path(settings.models_dir), stored.removeprefix(MODELS_PREFIX))
    if Path(stored).is_absolute():
        return Path(stored)
    return _within(Path(settings.artifacts_dir), stored)


def to_stored(settings: _Dirs, path: Path) -> str:
    """How `path` is written to the database: relative to the artifact store or the models folder when it lies
    in one of them, absolute otherwise."""
    path = Path(path).resolve()
    artifacts, models = Path(settings.artifacts_dir).resolve(), Path(settings.models_dir).resolve()
    if path.is_relative_to(artifacts):
        return path.relative_to(artifacts).as_posix()
    if path.is_relative_to(models):
        return MODELS_PREFIX + path.relative_to(models).as_posix()
    return str(path)
