"""Read the rows of a dataset version for training, refusing a file that is not the one that was validated.

A version's rows file is written once at upload (or cleaning) with its sha256 recorded; if the file changed
since (edited, truncated, replaced on disk), training on it would silently use data nobody validated.
"""

from __future__ import annotations

import hashlib

import orjson
from sqlalchemy.orm import Session

from backend.models.datasets import DatasetVersion
from backend.storage import ArtifactStore


class DatasetFileChanged(Exception):
    """The rows file of a dataset version is missing or differs from what was stored."""


def read_version_rows(session: Session, store: ArtifactStore, version_id: int) -> list[dict]:
    """All rows of dataset version ``version_id``, after checking its file against the stored sha256."""
    version = session.get(DatasetVersion, version_id)
    if version is None:
        raise DatasetFileChanged(f"dataset version {version_id} no longer exists")
    path = store.path(version.path)
    label = f"dataset version {version_id} ('{version.dataset.name}' v{version.version}, {version.path})"
    if not path.is_file():
        raise DatasetFileChanged(f"the rows file of {label} is missing; restore it or upload the data again")
    digest, rows, unparsable = hashlib.sha256(), [], None
    with path.open("rb", buffering=1 << 20) as fh:
        for number, line in enumerate(fh, 1):  # one pass: hash every byte, parse every row
            digest.update(line)
            if line.strip():
                try:
                    rows.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    unparsable = unparsable or number
    if version.sha256 and digest.hexdigest() != version.sha256:
        raise DatasetFileChanged(
            f"the rows file of {label} changed after it was stored (sha256 {digest.hexdigest()[:12]}..., "
            f"expected {version.sha256[:12]}...): refusing to train on unvalidated data. Restore the file "
            "or upload the data again as a new dataset"
        )
    if unparsable:
        raise DatasetFileChanged(f"line {unparsable} of the rows file of {label} is not valid JSON")
    return rows
