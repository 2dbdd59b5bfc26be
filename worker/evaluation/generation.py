"""Batched generation for evaluations: prompts sorted by length and left-padded, so a batch wastes little on
padding and every row's answer starts right after its prompt; several adapters of one base answer in one mixed
batch (PEFT's per-row `adapter_names`), so comparing K tuned models costs about one model's memory.

    answers = generate_answers(model, tokenizer, prompts, params, batch_size=8)
    answers = generate_answers(peft_model, tokenizer, prompts, params, adapter_names=["__base__", "a0", ...])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

BASE_ADAPTER = "__base__"  # PEFT's name for "no adapter" in a mixed batch


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 128
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 50
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int = 0

    def generate_kwargs(self, tokenizer) -> dict:
        kwargs = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.do_sample,
            "repetition_penalty": self.repetition_penalty,
            "pad_token_id": tokenizer.pad_token_id
            if tokenizer.pad_token_id is not None
            else tokenizer.eos_token_id,
        }
        if self.do_sample:
            kwargs.update(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
        else:  # greedy: say so, so a model's generation_config cannot switch sampling back on
            kwargs.update(temperature=None, top_k=None, top_p=None)
        return kwargs


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (a memory error shows at once)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@torch.inference_mode()
def generate_answers(
    model,
    tokenizer,
    prompts: Sequence[str],
    params: GenerationParams,
    *,
    batch_size: int = 8,
    adapter_names: Sequence[str] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> list[dict]:
    """Answer each prompt (already rendered with its chat template). Returns, in input order,
    {"text", "new_tokens"} per prompt. `on_batch(rows_done)` reports progress."""
    device = next(model.parameters()).device
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    results: list[dict | None] = [None] * len(prompts)
    kwargs = params.generate_kwargs(tokenizer)
    pad = kwargs["pad_token_id"]
    done = 0
    for batch in length_sorted_batches([len(e) for e in encoded], batch_size):
        width = max(len(encoded[i]) for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):  # left padding: the answer starts at the same column for every row
            ids[row, width - len(encoded[i]) :] = torch.tensor(encoded[i])
            mask[row, width - len(encoded[i]) :] = 1
        extra = {"adapter_names": [adapter_names[i] for i in batch]} if adapter_names is not None else {}
        if params.do_sample:
            torch.manual_seed(
                params.seed + batch[0]
            )  # the same rows with the same seed sample the same answers
        output = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs, **extra)
        for row, i in enumerate(batch):
            new = output[row, width:]
            new = new[new != pad] if pad is not None else new
            results[i] = {
                "text": tokenizer.decode(new, skip_special_tokens=True).strip(),
                "new_tokens": len(new),
            }
        done += len(batch)
        if on_batch:
            on_batch(done)
    return results  # type: ignore[return-value]
