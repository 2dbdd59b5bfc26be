"""An evaluation of a base model and two adapters: per-row answers graded as the graders grade alone,
aggregates with intervals, paired comparisons against the base, forgetting and in-context baselines."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from backend.schemas.evaluation import EvaluationSpec, GraderSpec
from worker.evaluation.graders import build_grader
from worker.evaluation.rows import item_from_row
from worker.evaluation.runner import EvalRequest, ModelRef, run_evaluation


def _dialogue(i: int) -> dict:
    """A row of DialogSum's shape: a #Person1#/#Person2# transcript to summarise."""
    return {
        "instruction": "Summarise the dialogue.",
        "input": f"#Person1#: Can we meet at {i} tomorrow?\n#Person2#: Yes, at the cafe near the station.",
        "output": f"#Person1# and #Person2# agree to meet at {i} at the cafe.",
    }


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory):
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        config = LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        folder = tmp_path_factory.mktemp(f"adapter{seed}")
        get_peft_model(base, config).save_pretrained(folder)
        paths.append(str(folder))
    return paths


def test_base_against_two_adapters(tiny_model_dir, adapters):
    base = str(tiny_model_dir)
    models = [
        ModelRef("m1", "base", base),
        ModelRef("m2", "tuned A", adapters[0], base_path=base),
        ModelRef("m3", "tuned B", adapters[1], base_path=base),
    ]
    spec = EvaluationSpec(
        graders=[GraderSpec(kind="rouge", rouge_type="rougeL"), GraderSpec(kind="bleu")],
        generation={"max_new_tokens": 10},
        few_shot=[0, 2],
        batch_size=4,
    )
    items = [item_from_row(i, _dialogue(i)) for i in range(6)]
    general = [
        item_from_row(i, {"instruction": f"Name a colour number {i}.", "output": "Blue."}) for i in range(4)
    ]
    examples = [item_from_row(i, _dialogue(100 + i)) for i in range(3)]
    seen = []
    result = run_evaluation(
        EvalRequest(
            models, spec, items, general, examples, progress=lambda done, total: seen.append((done, total))
        )
    )
    summary, rows = result["summary"], result["rows"]
    assert len(rows) == 6 + 4 and {r["set"] for r in rows} == {"task", "general"}
    rouge = build_grader(GraderSpec(kind="rouge"))
    for row in rows:
        assert set(row["outputs"]) == {"m1", "m2", "m3"}
        for output in row["outputs"].values():
            assert output["scores"]["rougeL"] == rouge.score([output["text"]], [row["reference"]])[0]
            assert output["tokens"] > 0 and output["nll"] > 0
    task = summary["task"]
    assert set(task["comparisons"]) == {"m2", "m3"}
    for key, comparison in task["comparisons"].items():
        paired = comparison["rougeL"]
        assert paired["wins"] + paired["ties"] + paired["losses"] == 6
        mine = [r["outputs"][key]["scores"]["rougeL"] for r in rows if r["set"] == "task"]
        base_scores = [r["outputs"]["m1"]["scores"]["rougeL"] for r in rows if r["set"] == "task"]
        assert paired["mean_difference"] == pytest.approx(sum(mine) / 6 - sum(base_scores) / 6)
    figures = task["models"]["m1"]["graders"]["rougeL"]
    assert (
        figures["low"] <= figures["mean"] <= figures["high"]
        and "corpus" in task["models"]["m1"]["graders"]["bleu"]
    )
    assert task["models"]["m2"]["perplexity"]["perplexity"] > 1
    # the adapters change the model: their answers differ from the base's on some row
    assert any(r["outputs"]["m2"]["text"] != r["outputs"]["m1"]["text"] for r in rows)
    forgetting = summary["forgetting"]["m2"]
    assert forgetting["drop"] == pytest.approx(forgetting["general_before"] - forgetting["general_after"])
    assert forgetting["flagged"] == (forgetting["drop"] > spec.forgetting_threshold)
    assert set(summary["few_shot"]) == {"0-shot", "2-shot"}
    # zero examples is the baseline itself: the same greedy answers, the same score
    assert summary["few_shot"]["0-shot"]["rougeL"]["mean"] == pytest.approx(figures["mean"])
    assert seen[-1][0] == seen[-1][1] == (6 + 4) * 3 + 2 * 6
