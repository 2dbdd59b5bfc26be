"""The official `openai` client against a live studio: upload, fine-tune, events, checkpoints, then chat with
the tuned model, streamed and not; a bad file is the client's BadRequestError naming the line."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest
from transformers import AutoTokenizer

from tests.e2e.slice_helpers import ANSWER, learnable_chat_jsonl
from worker.training.data import render

BAD = Path(__file__).resolve().parent.parent / "data" / "bad"
QUESTION = [{"role": "user", "content": "What is the secret word? (2)"}]


def _client(studio) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{studio.url}/v1", api_key=studio.token, max_retries=0, timeout=180)


def _wait(client: openai.OpenAI, job_id: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    job = client.fine_tuning.jobs.retrieve(job_id)
    while job.status not in ("succeeded", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = client.fine_tuning.jobs.retrieve(job_id)
    return job


@pytest.fixture(scope="module")
def tuned(studio):
    """One supervised job through the client, run to the end."""
    client = _client(studio)
    file = client.files.create(file=("secret.jsonl", learnable_chat_jsonl()), purpose="fine-tune")
    assert file.id.startswith("file-") and file.filename == "secret.jsonl" and file.status == "processed"
    job = client.fine_tuning.jobs.create(
        model="tiny-llama",
        training_file=file.id,
        suffix="secret",
        seed=3,
        method={
            "type": "supervised",
            "supervised": {
                "hyperparameters": {"n_epochs": 8, "batch_size": 4, "learning_rate_multiplier": 25}
            },
        },
    )
    assert job.status == "queued" and job.model == "tiny-llama" and job.fine_tuned_model is None
    done = _wait(client, job.id)
    assert done.status == "succeeded", done.error
    return client, done


def test_fine_tune_through_the_openai_client(studio, tuned):
    client, job = tuned
    assert job.fine_tuned_model == f"ft:tiny-llama:secret:job-{job.id.removeprefix('ftjob-')}"
    assert job.hyperparameters.n_epochs == 8 and job.hyperparameters.batch_size == 4

    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    assert events and all(e.object == "fine_tuning.job.event" for e in events)
    assert "queued" in events[-1].message.lower()  # newest first: the oldest event is the creation
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert checkpoints and all(c.step_number % 4 == 0 for c in checkpoints)  # one per epoch of 4 steps
    assert checkpoints[0].fine_tuned_model_checkpoint.startswith(job.fine_tuned_model)

    assert job.id in [j.id for j in client.fine_tuning.jobs.list(limit=50)]
    models = [m.id for m in client.models.list()]
    assert "tiny-llama" in models and job.fine_tuned_model in models
    assert client.models.retrieve(job.fine_tuned_model).id == job.fine_tuned_model
    # a /v1 job is an ordinary Afina job
    afina = studio.client().get(f"/api/jobs/{job.id.removeprefix('ftjob-')}").json()
    assert afina["method"] == "sft" and afina["status"] == "succeeded"


def test_chat_with_the_tuned_model_streamed_and_not(studio, tuned):
    client, job = tuned
    answer = client.chat.completions.create(
        model=job.fine_tuned_model, messages=QUESTION, temperature=0, max_tokens=16
    )
    text = answer.choices[0].message.content
    assert text.startswith(ANSWER[:12]), text
    assert answer.object == "chat.completion" and answer.choices[0].finish_reason in ("stop", "length")

    tokenizer = AutoTokenizer.from_pretrained(studio.tiny_model_path)
    prompt = render(QUESTION, tokenizer, "model", add_generation_prompt=True)
    assert answer.usage.prompt_tokens == len(tokenizer(prompt, add_special_tokens=False).input_ids)
    generated = len(tokenizer(text, add_special_tokens=False).input_ids)
    assert generated <= answer.usage.completion_tokens <= min(16, generated + 1)  # + the end token
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens

    stream = client.chat.completions.create(
        model=job.fine_tuned_model,
        messages=QUESTION,
        temperature=0,
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(deltas) == text  # greedy: the same answer, in pieces
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == [answer.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == answer.usage.completion_tokens

    stopped = client.chat.completions.create(
        model=job.fine_tuned_model, messages=QUESTION, temperature=0, max_tokens=16, stop=["word"]
    )
    assert stopped.choices[0].message.content == text[: text.index("word")]
    assert stopped.choices[0].finish_reason == "stop"


def test_sampling_choices_and_the_base_model(studio, tuned):
    client, _ = tuned
    kwargs = {"model": "tiny-llama", "messages": QUESTION, "temperature": 1.0, "top_p": 0.9, "seed": 5}
    first = client.chat.completions.create(n=2, max_completion_tokens=8, **kwargs)
    again = client.chat.completions.create(n=2, max_completion_tokens=8, **kwargs)
    assert [c.index for c in first.choices] == [0, 1]
    assert [c.message.content for c in first.choices] == [c.message.content for c in again.choices]
    assert 2 <= first.usage.completion_tokens <= 16  # both choices counted, 8 tokens each at most


def test_a_bad_file_is_a_bad_request_naming_the_line(studio):
    client = _client(studio)
    with pytest.raises(openai.BadRequestError) as refused:
        client.files.create(
            file=("broken.jsonl", (BAD / "invalid_json_line7.jsonl").read_bytes()), purpose="fine-tune"
        )
    assert "line 7" in refused.value.message and "invalid_json" in refused.value.message
    assert refused.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="ft:tiny-llama:x:job-999999", messages=QUESTION)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{studio.url}/v1", api_key="afn_wrong", max_retries=0).models.list()
