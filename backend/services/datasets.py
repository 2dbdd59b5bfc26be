"""Dataset use cases: upload (validate, then store), versions from cleaning and splitting, paging, export."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend import ingest
from backend.config import Settings
from backend.db import utcnow
from backend.models.datasets import Dataset, DatasetVersion
from backend.models.ownership import Visibility
from backend.models.users import User
from backend.schemas.datasets import VersionOperation
from backend.services import access, usage
from backend.services.errors import Conflict, Invalid, TooLarge
from backend.storage import ArtifactStore

#: keyword options of ingest.ingest_file a user may set through the upload form's `options` JSON
UPLOAD_OPTIONS = frozenset({"templates", "max_chars", "too_long_is_error"})


def _report_dict(report: Any) -> dict:
    return report.model_dump(mode="json") if hasattr(report, "model_dump") else dict(report)


def create_from_upload(
    session: Session,
    store: ArtifactStore,
    upload: Path,
    *,
    filename: str,
    name: str,
    description: str = "",
    format: str | None = None,
    mapping: dict | None = None,
    options: dict | None = None,
    user: User | None,
    limits: ingest.Limits | None = None,
) -> Dataset:
    """Validate the whole file, then store dataset + version 1. On refusal nothing is kept (422 + report;
    413/422 naming the limit and its setting as soon as reading the file passes one of ``limits``)."""
    if session.scalar(select(Dataset).where(Dataset.name == name)):
        raise Conflict(
            f"a dataset named '{name}' already exists; choose another name",
            code="dataset_exists",
            details={"field": "name", "value": name},
        )
    unknown = sorted(set(options or {}) - UPLOAD_OPTIONS)
    if unknown:
        raise Invalid(
            f"unknown upload option(s) {', '.join(unknown)}: choose from {', '.join(sorted(UPLOAD_OPTIONS))}",
            code="dataset_invalid",
            details={"field": "options", "value": unknown},
        )
    tmp = store.new_temp(".jsonl")
    try:
        report = ingest.ingest_file(
            upload, tmp, filename=filename, format=format, mapping=mapping, limits=limits, **(options or {})
        )
    except ingest.LimitExceeded as exc:
        raise limit_error(exc, filename) from exc
    except ingest.DatasetInvalid as exc:
        raise Invalid(
            f"{filename} was refused: {exc}", code="dataset_invalid", details=_report_dict(exc.report)
        ) from exc
    except ValueError as exc:  # a bad option or mapping
        raise Invalid(str(exc), code="dataset_invalid") from exc
    try:
        dataset = Dataset(name=name, description=description, owner_id=user.id if user else None)
        session.add(dataset)
        session.flush()
        add_version(
            session,
            store,
            dataset,
            tmp,
            report,
            operation={"op": "upload", "filename": filename, "format": format, "mapping": mapping},
        )
        session.commit()
    except Exception:
        session.rollback()
        tmp.unlink(missing_ok=True)
        raise
    return dataset


def upload_limits(settings: Settings) -> ingest.Limits:
    return ingest.Limits(
        max_upload_bytes=settings.max_upload_bytes,
        max_decompressed_bytes=settings.max_decompressed_bytes,
        max_ratio=settings.max_decompression_ratio,
        max_line_bytes=settings.max_line_bytes,
        max_rows=settings.max_rows,
    )


def limit_error(exc: ingest.LimitExceeded, filename: str) -> TooLarge | Invalid:
    """The 413 (sizes) or 422 (row length, rows, expansion) for an upload that passed a limit."""
    details = {"limit": exc.limit, "setting": exc.setting, "value": exc.value, "row": exc.row}
    kind = TooLarge if exc.is_size else Invalid
    return kind(f"{filename} was refused: {exc}", code="upload_limit", details=details)


def add_version(
    session: Session,
    store: ArtifactStore,
    dataset: Dataset,
    rows_file: Path,
    report: Any,
    *,
    operation: dict,
    parent: DatasetVersion | None = None,
    split: str | None = None,
    fmt: str | None = None,
) -> DatasetVersion:
    """Store rows_file as the dataset's next version: the one path every dataset version takes (uploads,
    transforms, labeling exports). Flushes; the caller commits (or rolls back and deletes the rows file)."""
    data = _report_dict(report)
    number = (
        session.scalar(
            select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset_id == dataset.id)
        )
        or 0
    ) + 1
    relative = store.dataset_rows(dataset.id, number)
    dest = store.put(rows_file, relative)
    version = DatasetVersion(
        dataset_id=dataset.id,
        version=number,
        parent_id=parent.id if parent else None,
        operation=operation,
        format=fmt or data["format"],
        split=split,
        row_count=data["row_count"],
        size_bytes=dest.stat().st_size,
        sha256=data.get("sha256") or data.get("stats", {}).get("sha256") or "",
        path=relative,
        report=data,
    )
    session.add(version)
    try:
        session.flush()
    except Exception:
        dest.unlink(missing_ok=True)
        raise
    return version


def get_dataset(session: Session, dataset_id: int, user: User | None = None) -> Dataset:
    """The dataset if `user` may see it (404 otherwise); `user=None` is the system itself."""
    return access.get_visible(session, Dataset, dataset_id, user, what="dataset")


def changeable_dataset(session: Session, dataset_id: int, user: User | None) -> Dataset:
    """The dataset if `user` may change it: 404 unseen, 403 when only shared with them."""
    return access.get_changeable(session, Dataset, dataset_id, user, what="dataset")


def get_version(
    session: Session, version_id: int, user: User | None = None, *, field: str = "version_id"
) -> DatasetVersion:
    """A version of a dataset `user` may see (404 otherwise, as for a missing one)."""
    version = session.get(DatasetVersion, version_id)
    if version is None or not access.can_see(user, version.dataset):
        raise access.not_found("dataset version", version_id, field)
    return version


def set_visibility(session: Session, dataset_id: int, user: User, visibility: Visibility) -> Dataset:
    """Share a dataset with the studio (every engineer reads it and trains on it) or make it private."""
    dataset = changeable_dataset(session, dataset_id, user)
    access.set_visibility(session, dataset, visibility)
    session.commit()
    return dataset


def list_datasets(
    session: Session, user: User | None = None, *, include_archived: bool = False
) -> list[Dataset]:
    query = access.visible_to(select(Dataset), user, Dataset)
    if not include_archived:
        query = query.where(Dataset.archived_at.is_(None))
    return list(session.scalars(query.order_by(Dataset.id.desc())))


def read_rows(store: ArtifactStore, version: DatasetVersion, offset: int, limit: int) -> list[dict]:
    if offset >= version.row_count:  # also keeps offset + limit within what islice takes
        return []
    return ingest.read_rows(store.path(version.path), offset, limit)


#: users named in a refusal's message (all of them are in its details, up to USAGE_DETAILS)
USAGE_NAMED, USAGE_DETAILS = 5, 100


def delete_dataset(session: Session, store: ArtifactStore, dataset_id: int, user: User | None = None) -> None:
    """Delete a dataset and its files, unless a job (or anything else) uses one of its versions: 409 naming
    them, since the data a job trained on must stay readable; archive it instead."""
    dataset = changeable_dataset(session, dataset_id, user)
    users_of = usage.usages_of_version(session, [v.id for v in dataset.versions])
    if users_of:
        seen = [u for u in users_of if access.can_see(user, u)]  # others' private work is only counted
        named = "; ".join(u.describe() for u in seen[:USAGE_NAMED])
        hidden = len(users_of) - len(seen)
        more = [f"{len(seen) - USAGE_NAMED} more"] if len(seen) > USAGE_NAMED else []
        more += [f"{hidden} private to other users"] if hidden else []
        said = "; ".join(filter(None, [named, " and ".join(more)]))
        raise Conflict(
            f"dataset {dataset.id} ('{dataset.name}') is in use and cannot be deleted: {said}. "
            f"Archive it instead (POST /api/datasets/{dataset.id}/archive): it leaves the listings and "
            "stays readable by what used it",
            code="dataset_in_use",
            details={
                "dataset_id": dataset.id,
                "used_by": [u.public() for u in seen[:USAGE_DETAILS]],
                "used_by_others": hidden,
            },
        )
    # derived versions name their parent: unlink them first, so the rows can go in any order
    session.execute(
        update(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id).values(parent_id=None)
    )
    session.delete(dataset)
    session.commit()
    shutil.rmtree(store.path(f"datasets/{dataset_id}"), ignore_errors=True)


def archive_dataset(
    session: Session, dataset_id: int, user: User | None = None, *, archived: bool = True
) -> Dataset:
    """Hide a dataset from the default listings (or bring it back); its versions stay readable by id."""
    dataset = changeable_dataset(session, dataset_id, user)
    if archived and dataset.archived_at is None:
        dataset.archived_at = utcnow()
    elif not archived:
        dataset.archived_at = None
    session.commit()
    return dataset


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def apply_operation(
    session: Session, store: ArtifactStore, version_id: int, op: VersionOperation, user: User | None = None
) -> list[DatasetVersion]:
    """Run a cleaning or split step on a version; the output is new version(s) of the same dataset (so only
    its owner or an admin may), the parent is untouched."""
    parent = get_version(session, version_id, user)
    access.check_changeable(user, parent.dataset, "dataset", parent.dataset_id)
    if op.op == "split" and parent.row_count < 2:
        raise Invalid(
            f"a split needs at least 2 rows; version {version_id} has {parent.row_count}",
            details={"field": "op", "value": op.op},
        )
    src = store.path(parent.path)
    outputs = {"train": store.new_temp(".jsonl"), "validation": store.new_temp(".jsonl")}
    runners = {
        "dedup_exact": lambda: ingest.dedup_exact(src, outputs["train"]),
        "dedup_near": lambda: ingest.dedup_near(src, outputs["train"], op.threshold),
        "filter_length": lambda: ingest.filter_length(src, outputs["train"], op.min_chars, op.max_chars),
        "split": lambda: ingest.split(src, outputs["train"], outputs["validation"], op.val_fraction, op.seed),
    }
    created: list[DatasetVersion] = []
    try:
        stats = runners[op.op]().to_dict()
        parts = [("train", "train"), ("validation", "validation")] if op.op == "split" else [("train", None)]
        for key, split_name in parts:
            rows = ingest.count_rows(outputs[key])
            if rows == 0:
                raise Invalid(
                    f"'{op.op}' would leave the {split_name or 'dataset'} with no rows",
                    details={"field": "op", "value": op.op},
                )
            report = {"format": parent.format, "row_count": rows, "sha256": _sha256(outputs[key])}
            created.append(
                add_version(
                    session,
                    store,
                    parent.dataset,
                    outputs[key],
                    report,
                    parent=parent,
                    fmt=parent.format,
                    split=split_name or parent.split,
                    operation={"op": op.op, "params": op.model_dump(), "stats": stats},
                )
            )
        session.commit()
        return created
    except Exception:
        session.rollback()
        for version in created:
            store.delete(version.path)
        raise
    finally:
        for leftover in outputs.values():
            leftover.unlink(missing_ok=True)


def export_version(store: ArtifactStore, version: DatasetVersion, fmt: str) -> Path:
    dest = store.new_temp(f".{fmt}")
    ingest.export(store.path(version.path), dest, fmt=fmt)
    return dest


def save_profile(session: Session, version_id: int, profile: dict) -> None:
    get_version(session, version_id).profile = profile
    session.commit()
