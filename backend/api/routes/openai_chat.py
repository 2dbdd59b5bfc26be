"""OpenAI-compatible chat completions (/v1/chat/completions), answered by the infer worker; streamed as
server-sent events when `stream` is true."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from backend.api.deps import Engineer, SettingsDep
from backend.db import get_sessionmaker
from backend.schemas.openai import ChatCompletionCreate
from backend.services import openai_chat

router = APIRouter(prefix="/chat", tags=["openai"])


@router.post("/completions")
async def create_chat_completion(body: ChatCompletionCreate, user: Engineer, settings: SettingsDep):
    def submit() -> int:
        with get_sessionmaker(settings.database_url)() as session:
            return openai_chat.submit(session, settings, body, user)

    request_id = await run_in_threadpool(submit)
    if not body.stream:
        return await openai_chat.answer(settings, request_id, body.model)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    events = openai_chat.stream(settings, request_id, body.model, body.n, include_usage)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
