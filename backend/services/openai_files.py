"""OpenAI files on Afina datasets: an upload is validated by the dataset ingest and stored as a dataset
version (`file-<version id>`); list, retrieve, delete and content read those versions."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ingest
from backend.models.datasets import Dataset, DatasetVersion
from backend.models.users import User
from backend.services import access, datasets, openai_dpo_files
from backend.services import openai_objects as objects
from backend.services.errors import Conflict, Invalid, NotFound
from backend.storage import ArtifactStore

PURPOSES = ("fine-tune",)
#: longest line an OpenAI DPO file is read in whole when no limit is set
MAX_LINE = 8 << 20


def _free_name(session: Session, filename: str) -> str:
    """The file name, or with a counter when a dataset already has it (OpenAI takes the same name twice)."""
    name, number = filename, 1
    while session.scalar(select(Dataset.id).where(Dataset.name == name)) is not None:
        number += 1
        name = f"{filename} ({number})"
    return name


def _rename_fields(report: dict) -> dict:
    """The report of a converted OpenAI DPO file with its fields named as in the uploaded file."""
    for issue in report.get("errors") or []:
        for example in issue.get("examples") or []:
            example["field"] = openai_dpo_files.openai_field(example.get("field"))
    return report


def _first_error(report: dict, filename: str) -> str:
    """The refusal in one sentence naming the first bad line and field, and how many more problems exist."""
    errors = report.get("errors") or []
    if not errors:
        return f"{filename} was refused"
    issue = errors[0]
    example = (issue.get("examples") or [{}])[0]
    where = []
    if example.get("row") is not None:
        where.append(f"line {example['row']}")
    if example.get("field"):
        where.append(f"field '{example['field']}'")
    place = ", ".join(where) or "the file"
    others = sum(e.get("count", 0) for e in errors) - 1
    more = f" ({others} more problem{'s' if others != 1 else ''} in the file)" if others > 0 else ""
    return f"{filename} was refused: {place}: {issue.get('kind')}: {issue.get('message')}{more}"


def _where(report: dict) -> str | None:
    errors = report.get("errors") or []
    example = (errors[0].get("examples") or [{}])[0] if errors else {}
    if example.get("row") is None:
        return None
    return f"line {example['row']}" + (f": {example['field']}" if example.get("field") else "")


def upload(
    session: Session,
    store: ArtifactStore,
    path: Path,
    *,
    filename: str,
    purpose: str,
    user: User | None,
    limits: ingest.Limits,
) -> DatasetVersion:
    if purpose not in PURPOSES:
        raise objects.invalid(
            f"purpose '{purpose}' is not supported: Afina takes files for 'fine-tune'", "purpose", purpose
        )
    converted = None
    if openai_dpo_files.is_openai_dpo(path, limits.max_line_bytes or MAX_LINE):
        converted = store.new_temp(".jsonl")
        openai_dpo_files.convert(path, converted, limits.max_line_bytes or MAX_LINE)
    try:
        dataset = datasets.create_from_upload(
            session,
            store,
            converted or path,
            filename=filename,
            name=_free_name(session, filename),
            user=user,
            limits=limits,
        )
    except Invalid as exc:
        if exc.code != "dataset_invalid" or not isinstance(exc.details, dict):
            raise
        report = _rename_fields(exc.details) if converted else exc.details
        raise Invalid(
            _first_error(report, filename),
            code="invalid_file",
            details={"field": _where(report) or "file", "report": report},
        ) from exc
    finally:
        if converted is not None:
            converted.unlink(missing_ok=True)
    return dataset.versions[0]


def get(session: Session, file_id: str, user: User | None) -> DatasetVersion:
    """A file the caller may see (its dataset is theirs or shared); otherwise the 404 of a missing one."""
    version = session.get(DatasetVersion, objects.parse_id(file_id, "file", param="file_id"))
    if version is None or not access.can_see(user, version.dataset):
        raise NotFound(
            f"no such file '{file_id}'", code="not_found", details={"field": "file_id", "value": file_id}
        )
    return version


def list_files(
    session: Session, user: User | None, purpose: str | None, after: str | None, limit: int
) -> dict:
    if purpose is not None and purpose not in PURPOSES:
        return {"object": "list", "data": [], "has_more": False, "first_id": None, "last_id": None}
    cursor = objects.parse_id(after, "file", param="after") if after else None
    query = access.visible_to(
        select(DatasetVersion).join(Dataset).where(Dataset.archived_at.is_(None)), user, Dataset
    )
    return objects.page(session, query, DatasetVersion.id, cursor, limit, objects.file_object)


def delete(session: Session, store: ArtifactStore, file_id: str, user: User | None) -> dict:
    """Delete an uploaded file: its dataset, when this version is the dataset's only one. A version made by
    cleaning or splitting is deleted with its dataset on /api, so here it is a 409 saying so."""
    version = get(session, file_id, user)
    dataset = datasets.changeable_dataset(session, version.dataset_id, user)
    if len(dataset.versions) > 1:
        raise Conflict(
            f"file '{file_id}' is one of {len(dataset.versions)} versions of dataset {dataset.id} "
            f"('{dataset.name}'); delete the dataset with DELETE /api/datasets/{dataset.id}",
            code="file_has_versions",
            details={"field": "file_id", "value": file_id},
        )
    datasets.delete_dataset(session, store, dataset.id, user)
    return {"id": file_id, "object": "file", "deleted": True}


def content_path(store: ArtifactStore, version: DatasetVersion) -> Path:
    """The stored rows (JSONL, as validated and normalised at upload)."""
    return store.path(version.path)
