"""Loss and perplexity on reference answers: the answer tokens alone are scored, given the prompt."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


@torch.inference_mode()
def answer_nll(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    *,
    batch_size: int = 8,
    max_length: int = 1024,
    adapter_names: Sequence[str] | None = None,
) -> list[tuple[float, int]]:
    """(summed negative log-likelihood, answer tokens) per (prompt text, answer text) pair.

    The prompt is kept whole when it fits; a pair longer than max_length loses the start of its prompt, never
    the answer's first tokens (they are what is measured)."""
    device = next(model.parameters()).device
    rows = []
    for prompt, answer in pairs:
        head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        tail = tokenizer(answer, add_special_tokens=False)["input_ids"][: max_length - 1]
        head = head[-(max_length - len(tail)) :] if len(head) + len(tail) > max_length else head
        rows.append((head + tail, len(head)))
    out: list[tuple[float, int]] = []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        width = max(len(ids) for ids, _ in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        labels = torch.full((len(chunk), width), -100, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, (tokens, prompt_len) in enumerate(chunk):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
            labels[row, prompt_len : len(tokens)] = torch.tensor(tokens[prompt_len:])
        extra = {"adapter_names": list(adapter_names[start : start + len(chunk)])} if adapter_names else {}
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), **extra).logits.float()
        shifted = labels[:, 1:].to(device)
        losses = F.cross_entropy(logits[:, :-1].transpose(1, 2), shifted, ignore_index=-100, reduction="none")
        counts = (shifted != -100).sum(dim=1)
        out += [
            (float(loss), int(n)) for loss, n in zip(losses.sum(dim=1).tolist(), counts.tolist(), strict=True)
        ]
    return out


def perplexity(nll: Sequence[tuple[float, int]]) -> dict[str, float]:
    """Token-weighted mean loss and its perplexity over rows."""
    total, tokens = sum(n for n, _ in nll), sum(t for _, t in nll)
    loss = total / tokens if tokens else float("nan")
    return {"loss": loss, "perplexity": math.exp(loss) if tokens else float("nan"), "tokens": tokens}
