"""How often a reward model prefers the reply people preferred: pairwise accuracy on held-out preference rows,
with the score margin, each with a bootstrap interval. Texts are built exactly as reward training builds them
(worker.training.reward.pair_texts), so the figure measures the model, not a formatting mismatch.

    figures, rows = reward_accuracy(model_path, preference_rows)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from backend import stats
from worker.training.models import adapter_base_path, is_adapter_dir, load_reference, load_tokenizer
from worker.training.reward import is_causal_backbone, pair_texts

#: what people agree on with each other: InstructGPT's labelers 72.6-77.3 % (Ouyang et al. 2022), Anthropic's
#: HH-RLHF crowdworkers about 63 % (Bai et al. 2022). A reward model near this band is as good as its labels.
HUMAN_AGREEMENT = {"low": 0.63, "high": 0.77, "source": "Ouyang et al. 2022; Bai et al. 2022"}


@torch.inference_mode()
def _scores(
    model, tokenizer, texts: Sequence[str], *, causal: bool, max_length: int, batch_size: int
) -> list[float]:
    device = next(model.parameters()).device
    out: list[float] = []
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(
            list(texts[start : start + batch_size]),
            add_special_tokens=not causal,
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        ).to(device)
        out += model(**enc).logits[:, 0].float().tolist()
    return out


def reward_accuracy(
    model_path: str,
    rows: Sequence[dict],
    *,
    chat_template: str = "model",
    max_length: int = 1024,
    batch_size: int = 16,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> tuple[dict, list[dict]]:
    """(figures, per-row scores). A row counts as correct when the chosen reply scores strictly higher."""
    causal = is_causal_backbone(model_path)
    tokenizer = load_tokenizer(
        model_path, fallback=adapter_base_path(model_path) if is_adapter_dir(model_path) else None
    )
    # Keep the end of long conversations: the replies being compared are at the end, and cutting them off
    # (right-side truncation) leaves the model nothing to compare.
    tokenizer.truncation_side = "left"
    model = load_reference(model_path, task="seq_cls").to(device)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    chosen, rejected = [], []
    for row in rows:
        good, bad = pair_texts(row, tokenizer, chat_template, causal)
        chosen.append(good)
        rejected.append(bad)
    good_scores = _scores(
        model, tokenizer, chosen, causal=causal, max_length=max_length, batch_size=batch_size
    )
    if progress:
        progress(len(rows))
    bad_scores = _scores(
        model, tokenizer, rejected, causal=causal, max_length=max_length, batch_size=batch_size
    )
    if progress:
        progress(len(rows))
    correct = [float(g > b) for g, b in zip(good_scores, bad_scores, strict=True)]
    margins = [g - b for g, b in zip(good_scores, bad_scores, strict=True)]
    figures = {"accuracy": stats.interval(correct), "margin": stats.interval(margins)}
    per_row = [
        {"chosen_score": g, "rejected_score": b, "correct": bool(c)}
        for g, b, c in zip(good_scores, bad_scores, correct, strict=True)
    ]
    return figures, per_row
