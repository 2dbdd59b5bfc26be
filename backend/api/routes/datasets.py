"""Datasets: upload with validation, versions, rows."""

from __future__ import annotations

import json
import shutil
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from backend.api.deps import WAIT, Engineer, ResourceId, SessionDep, SettingsDep, StoreDep
from backend.api.errors import MAX_INT, loads_strict
from backend.schemas.common import VisibilityUpdate
from backend.schemas.datasets import (
    DatasetRead,
    DatasetVersionRead,
    ProfileCreate,
    RowsPage,
    TemplatePreviewCreate,
    VersionOperation,
)
from backend.schemas.inference import InferenceRead
from backend.services import datasets, inference
from backend.services.errors import Invalid

router = APIRouter(prefix="/datasets", tags=["datasets"])


def _json_form(value: str | None, field: str) -> dict | None:
    if not value:
        return None
    try:
        parsed = loads_strict(value, field=field)
    except json.JSONDecodeError as exc:
        raise Invalid(
            f"'{field}' must be a JSON object: {exc}", details={"field": field, "value": value}
        ) from exc
    if not isinstance(parsed, dict):
        raise Invalid(f"'{field}' must be a JSON object", details={"field": field, "value": value})
    return parsed


@router.post("", response_model=DatasetRead, status_code=201)
async def upload_dataset(
    user: Engineer,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="JSONL, JSON array, CSV or Parquet; gzip of any of these.")],
    name: Annotated[str | None, Form(max_length=200, description="Default: the file name.")] = None,
    description: Annotated[str, Form(max_length=2000)] = "",
    format: Annotated[
        str | None,
        Form(
            description="text, instruction, chat, preference, "
            "unpaired_preference or prompt_only. Default: detected."
        ),
    ] = None,
    mapping: Annotated[str | None, Form(description="JSON object: target field -> source column.")] = None,
    options: Annotated[
        str | None, Form(description='JSON object of validation options, e.g. {"max_chars": 20000}.')
    ] = None,
):
    """Upload a dataset. The whole file is validated first: a refused upload gets 422 with a report naming
    each error kind, its count and the first rows and fields where it happens, and nothing is stored.

    Limits (settings AFINA_MAX_UPLOAD_BYTES, _DECOMPRESSED_BYTES, _DECOMPRESSION_RATIO, _LINE_BYTES, _ROWS)
    are refused as soon as reading passes them: 413 for sizes, 422 for the others, naming the setting."""
    filename = file.filename or "upload"
    upload = store.new_temp(".upload")
    try:
        # Copy the spooled upload (capped by BodyLimit as it arrived) into the store's temp area in chunks.
        await run_in_threadpool(_copy, file, upload)
        return await run_in_threadpool(
            datasets.create_from_upload,
            session,
            store,
            upload,
            filename=filename,
            name=(name or filename).strip(),
            description=description,
            format=format or None,
            mapping=_json_form(mapping, "mapping"),
            options=_json_form(options, "options"),
            user=user,
            limits=datasets.upload_limits(settings),
        )
    finally:
        upload.unlink(missing_ok=True)


def _copy(file: UploadFile, dest) -> None:
    with dest.open("wb") as out:
        shutil.copyfileobj(file.file, out, length=1 << 20)


@router.get("", response_model=list[DatasetRead])
def list_datasets(
    user: Engineer,
    session: SessionDep,
    include_archived: Annotated[bool, Query(description="Also list archived datasets.")] = False,
):
    """Your datasets and those shared with the studio (all of them for an admin)."""
    return datasets.list_datasets(session, user, include_archived=include_archived)


@router.get("/{dataset_id}", response_model=DatasetRead)
def get_dataset(dataset_id: ResourceId, user: Engineer, session: SessionDep):
    return datasets.get_dataset(session, dataset_id, user)


@router.patch("/{dataset_id}", response_model=DatasetRead)
def update_dataset(dataset_id: ResourceId, body: VisibilityUpdate, user: Engineer, session: SessionDep):
    """Share a dataset with the studio or make it private (its owner or an admin)."""
    return datasets.set_visibility(session, dataset_id, user, body.visibility)


@router.delete("/{dataset_id}", status_code=204)
def delete_dataset(dataset_id: ResourceId, user: Engineer, session: SessionDep, store: StoreDep) -> None:
    """Delete a dataset and its files. 409 naming the jobs (or other users) of any of its versions: the data a
    job trained on stays readable, so archive such a dataset instead."""
    datasets.delete_dataset(session, store, dataset_id, user)


@router.post("/{dataset_id}/archive", response_model=DatasetRead)
def archive_dataset(dataset_id: ResourceId, user: Engineer, session: SessionDep):
    """Hide a dataset from the default listings; the jobs that used it still read its versions."""
    return datasets.archive_dataset(session, dataset_id, user)


@router.post("/{dataset_id}/unarchive", response_model=DatasetRead)
def unarchive_dataset(dataset_id: ResourceId, user: Engineer, session: SessionDep):
    """Bring an archived dataset back into the listings."""
    return datasets.archive_dataset(session, dataset_id, user, archived=False)


@router.get("/versions/{version_id}", response_model=DatasetVersionRead)
def get_version(version_id: ResourceId, user: Engineer, session: SessionDep):
    return datasets.get_version(session, version_id, user)


@router.get("/versions/{version_id}/rows", response_model=RowsPage)
def version_rows(
    version_id: ResourceId,
    user: Engineer,
    session: SessionDep,
    store: StoreDep,
    offset: int = Query(0, ge=0, le=MAX_INT),
    limit: int = Query(20, ge=1, le=1000),
):
    version = datasets.get_version(session, version_id, user)
    rows = datasets.read_rows(store, version, offset, limit)
    return RowsPage(version_id=version_id, offset=offset, total=version.row_count, rows=rows)


@router.post("/versions/{version_id}/operations", response_model=list[DatasetVersionRead], status_code=201)
def apply_operation(
    version_id: ResourceId, body: VersionOperation, user: Engineer, session: SessionDep, store: StoreDep
):
    """Clean or split a version. Each step makes new immutable version(s) recording the parent and the stats
    (counts and examples of what was removed)."""
    return datasets.apply_operation(session, store, version_id, body, user)


EXPORT_TYPES = {"jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}


@router.get(
    "/versions/{version_id}/export",
    response_class=FileResponse,
    responses={200: {"description": "The rows as a file", "content": {t: {} for t in EXPORT_TYPES.values()}}},
)
def export_version(
    version_id: ResourceId,
    user: Engineer,
    session: SessionDep,
    store: StoreDep,
    fmt: Annotated[Literal["jsonl", "parquet"], Query(description="jsonl or parquet")] = "jsonl",
):
    """Download a version as JSONL or Parquet (`datasets.load_dataset` reads either back unchanged)."""
    version = datasets.get_version(session, version_id, user)
    path = datasets.export_version(store, version, fmt)
    filename = f"{version.dataset.name}-v{version.version}.{fmt}"
    return FileResponse(
        path,
        filename=filename,
        media_type=EXPORT_TYPES[fmt],
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.post("/versions/{version_id}/preview", response_model=InferenceRead, status_code=202)
async def template_preview(
    version_id: ResourceId,
    body: TemplatePreviewCreate,
    user: Engineer,
    settings: SettingsDep,
    wait: float = WAIT,
):
    """Render one row exactly as the trainer tokenizes it, marking the tokens that carry the loss (on a
    worker, which has the tokenizer)."""
    return await inference.submit_and_wait(
        settings,
        lambda session: inference.submit_dataset_request(
            session, settings, "preview", version_id, body.model_dump(), user
        ),
        wait,
    )


@router.post("/versions/{version_id}/profile", response_model=InferenceRead, status_code=202)
async def profile_version(
    version_id: ResourceId, body: ProfileCreate, user: Engineer, settings: SettingsDep, wait: float = WAIT
):
    """Token-length histogram, share over max_length and samples, computed by a worker with the model's
    tokenizer; the result is also stored on the version."""
    return await inference.submit_and_wait(
        settings,
        lambda session: inference.submit_dataset_request(
            session, settings, "profile", version_id, body.model_dump(), user
        ),
        wait,
    )
