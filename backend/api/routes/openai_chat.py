"""OpenAI-compatible chat completions (/v1/chat/completions), answered by the infer worker; streamed as
server-sent events when `stream` is true."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from backend.api.deps import Engineer, SettingsDep
from backend.schemas.openai import ChatCompletionCreate
from backend.services import openai_chat

router = APIRouter(prefix="/chat", tags=["openai"])


@router.post("/completions")
async def create_chat_completion(body: ChatCompletionCreate, user: Engineer, settings: SettingsDep):
    request_id = await openai_chat.submit_in_thread(settings, body, user)
    if not body.stream:
        return await openai_chat.answer(settings, request_id, body.model)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    events = openai_chat.stream(settings, request_id, body.model, body.n, include_usage)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
