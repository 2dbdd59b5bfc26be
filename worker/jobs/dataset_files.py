"""Check the rows file of a dataset version before training, refusing a file that is not the one validated.

A version's rows file is written once at upload (or cleaning) with its sha256 recorded; if the file changed
since (edited, truncated, replaced on disk), training on it would silently use data nobody validated.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy.orm import Session

from backend.models.datasets import DatasetVersion
from backend.storage import ArtifactStore


class DatasetFileChanged(Exception):
    """The rows file of a dataset version is missing or differs from what was stored."""


def checked_version_file(session: Session, store: ArtifactStore, version_id: int) -> Path:
    """The rows file of dataset version ``version_id``, after checking it against the stored sha256 (read in
    1 MiB blocks: the check holds no rows in memory; training then memory-maps the file as Arrow)."""
    version = session.get(DatasetVersion, version_id)
    if version is None:
        raise DatasetFileChanged(f"dataset version {version_id} no longer exists")
    path = store.path(version.path)
    label = f"dataset version {version_id} ('{version.dataset.name}' v{version.version}, {version.path})"
    if not path.is_file():
        raise DatasetFileChanged(f"the rows file of {label} is missing; restore it or upload the data again")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    if version.sha256 and digest.hexdigest() != version.sha256:
        raise DatasetFileChanged(
            f"the rows file of {label} changed after it was stored (sha256 {digest.hexdigest()[:12]}..., "
            f"expected {version.sha256[:12]}...): refusing to train on unvalidated data. Restore the file "
            "or upload the data again as a new dataset"
        )
    return path
