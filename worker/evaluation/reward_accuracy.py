"""How often a reward model prefers the reply people preferred: pairwise accuracy on held-out preference rows,
with the score margin, each with a bootstrap interval; and the same scores for any number of replies to a
prompt (CandidateScorer). Texts are built exactly as reward training builds them
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


def _load(model_path: str, device: str):
    """(model, tokenizer, causal) of a reward job's output folder, ready to score."""
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
    return model, tokenizer, causal


def _pair_scores(
    loaded, rows: Sequence[dict], chat_template: str, max_length: int, batch_size: int, progress
):
    """(chosen scores, rejected scores) of preference rows, texts built as reward training builds them."""
    model, tokenizer, causal = loaded
    chosen, rejected = [], []
    for row in rows:
        good, bad = pair_texts(row, tokenizer, chat_template, causal)
        chosen.append(good)
        rejected.append(bad)
    scores = []
    for texts in (chosen, rejected):
        scores.append(
            _scores(model, tokenizer, texts, causal=causal, max_length=max_length, batch_size=batch_size)
        )
        if progress:
            progress(len(rows))
    return scores[0], scores[1]


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
    loaded = _load(model_path, device)
    good_scores, bad_scores = _pair_scores(loaded, rows, chat_template, max_length, batch_size, progress)
    correct = [float(g > b) for g, b in zip(good_scores, bad_scores, strict=True)]
    margins = [g - b for g, b in zip(good_scores, bad_scores, strict=True)]
    figures = {"accuracy": stats.interval(correct), "margin": stats.interval(margins)}
    per_row = [
        {"chosen_score": g, "rejected_score": b, "correct": bool(c)}
        for g, b, c in zip(good_scores, bad_scores, correct, strict=True)
    ]
    return figures, per_row


class CandidateScorer:
    """Scores every reply of a prompt with one reward model, loaded once (labeling campaigns order their queue
    by these). The texts are exactly the ones `reward_accuracy` scores: replies go through the same pair rows,
    two replies per row (an odd last one paired with itself)."""

    def __init__(
        self,
        model_path: str,
        *,
        chat_template: str = "model",
        max_length: int = 1024,
        batch_size: int = 16,
        device: str = "cpu",
    ) -> None:
        self.loaded = _load(model_path, device)
        self.chat_template, self.max_length, self.batch_size = chat_template, max_length, batch_size

    def score(self, items: Sequence[tuple[list[dict], list[str]]]) -> list[list[float]]:
        """For each (prompt messages, replies): one score per reply, in order."""
        rows, where = [], []
        for n, (prompt, replies) in enumerate(items):
            for i in range(0, len(replies), 2):
                second = replies[i + 1] if i + 1 < len(replies) else replies[i]
                rows.append(
                    {
                        "prompt": prompt,
                        "chosen": [{"role": "assistant", "content": replies[i]}],
                        "rejected": [{"role": "assistant", "content": second}],
                    }
                )
                where.append((n, i))
        firsts, seconds = _pair_scores(
            self.loaded, rows, self.chat_template, self.max_length, self.batch_size, None
        )
        out = [[0.0] * len(replies) for _, replies in items]
        for (n, i), first, second in zip(where, firsts, seconds, strict=True):
            out[n][i] = first
            if i + 1 < len(out[n]):
                out[n][i + 1] = second
        return out
