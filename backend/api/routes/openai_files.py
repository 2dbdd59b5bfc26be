"""OpenAI-compatible files (/v1/files): uploads for fine-tuning, stored as dataset versions."""

from __future__ import annotations

import shutil
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from backend.api.deps import Engineer, SessionDep, SettingsDep, StoreDep
from backend.services import datasets, openai_files
from backend.services import openai_objects as objects

router = APIRouter(prefix="/files", tags=["openai"])


def _copy(file: UploadFile, dest) -> None:
    with dest.open("wb") as out:
        shutil.copyfileobj(file.file, out, length=1 << 20)


@router.post("")
async def create_file(
    user: Engineer,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="JSONL of chat rows (or any format /api/datasets takes).")],
    purpose: Annotated[str, Form(max_length=64, description="fine-tune")],
):
    """Upload a training file: validated like a dataset upload; a refused file answers 400 naming the line
    and field at fault."""
    upload = store.new_temp(".upload")
    try:
        await run_in_threadpool(_copy, file, upload)
        version = await run_in_threadpool(
            openai_files.upload,
            session,
            store,
            upload,
            filename=file.filename or "upload.jsonl",
            purpose=purpose,
            user=user,
            limits=datasets.upload_limits(settings),
        )
        return objects.file_object(version)
    finally:
        upload.unlink(missing_ok=True)


@router.get("")
def list_files(
    user: Engineer,
    session: SessionDep,
    purpose: str | None = None,
    after: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
):
    return openai_files.list_files(session, user, purpose, after, limit)


@router.get("/{file_id}")
def retrieve_file(file_id: str, user: Engineer, session: SessionDep):
    return objects.file_object(openai_files.get(session, file_id, user))


@router.delete("/{file_id}")
def delete_file(file_id: str, user: Engineer, session: SessionDep, store: StoreDep):
    return openai_files.delete(session, store, file_id, user)


@router.get("/{file_id}/content", response_class=FileResponse)
def file_content(file_id: str, user: Engineer, session: SessionDep, store: StoreDep):
    """The file's rows as stored after validation (JSONL)."""
    version = openai_files.get(session, file_id, user)
    return FileResponse(
        openai_files.content_path(store, version),
        media_type="application/jsonl",
        filename=f"{version.dataset.name}-v{version.version}.jsonl",
    )
