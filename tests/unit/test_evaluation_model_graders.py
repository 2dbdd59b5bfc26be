"""Classifier and LLM-judge graders on tiny random models: the classifier's score is the softmax (or, with one
label, the sigmoid) of its logits for the chosen label; the judge's verdicts are parsed into 0-1 scores, kept
as evidence, and counted as unparseable when they hold no score; both serve as RL rewards the same way."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from backend.schemas.evaluation import EvaluationSpec, GraderSpec
from worker.evaluation import judge as judge_module
from worker.evaluation.judge import DEFAULT_RUBRIC, JudgeModel, fill_rubric, parse_score
from worker.evaluation.model_graders import build_graders
from worker.evaluation.rows import item_from_row
from worker.evaluation.runner import EvalRequest, ModelRef, run_evaluation
from worker.training.rewards import build_rewards, grader_reward
from worker.training.tiny import build_tiny_encoder

LABELS = {"0": "negative", "1": "neutral", "2": "positive"}
QUESTIONS = ["Is the soup hot?", "What colour is the sky?", "Name a fruit."]
ANSWERS = ["Yes, very hot.", "Blue on a clear day, grey when it rains.", "apple"]


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    folder = build_tiny_encoder(tmp_path_factory.mktemp("cls") / "model", num_labels=3, seed=3)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"], config["label2id"] = LABELS, {v: int(k) for k, v in LABELS.items()}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory):
    return build_tiny_encoder(tmp_path_factory.mktemp("rm") / "model", num_labels=1, seed=4)


def _logits(folder, questions, answers) -> torch.Tensor:
    """An independent computation: encoders read "question\\nanswer", as the reward models were trained."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    texts = [q + "\n" + a for q, a in zip(questions, answers, strict=True)]
    with torch.no_grad():
        return torch.cat([model(**tokenizer(t, return_tensors="pt")).logits for t in texts])


def _classifier(folder, label):
    spec = GraderSpec(kind="classifier", classifier_model_id=9, label=label)
    return build_graders([spec], model_paths={9: JudgeModel(str(folder))})[0]


def test_classifier_probability_is_the_softmax_of_the_chosen_label(classifier_dir):
    expected = torch.softmax(_logits(classifier_dir, QUESTIONS, ANSWERS), dim=-1)
    for index, label in enumerate(("negative", "neutral", "positive")):
        grader = _classifier(classifier_dir, label)
        scores = grader.score(ANSWERS, prompts=QUESTIONS, questions=QUESTIONS)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert scores == pytest.approx(expected[:, index].tolist(), abs=1e-5)
    assert grader.name == "classifier_m9_positive" and grader.bounds == (0.0, 1.0)


def test_one_label_reward_model_reads_as_the_sigmoid_of_its_score(reward_dir):
    grader = _classifier(reward_dir, None)  # one label: it need not be named
    scores = grader.score(ANSWERS, prompts=QUESTIONS, questions=QUESTIONS)
    expected = torch.sigmoid(_logits(reward_dir, QUESTIONS, ANSWERS)[:, 0])
    assert scores == pytest.approx(expected.tolist(), abs=1e-5)
    assert _classifier(reward_dir, "LABEL_0").score(ANSWERS, questions=QUESTIONS) == pytest.approx(scores)


def test_unknown_label_names_the_labels(classifier_dir):
    with pytest.raises(ValueError, match="no label 'happy'.*negative, neutral, positive"):
        _classifier(classifier_dir, "happy")


def test_classifier_as_a_reward_gives_the_evaluation_scores(classifier_dir):
    grader = _classifier(classifier_dir, "positive")
    reward = grader_reward(grader)
    rewarded = reward(QUESTIONS, ANSWERS, plain_prompt=QUESTIONS)
    assert rewarded == pytest.approx(grader.score(ANSWERS, prompts=QUESTIONS, questions=QUESTIONS))


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Score: 7", 7),
        ("score:7\nThe answer is right but terse.", 7),
        ("**Score:** 10 - perfect.", 10),
        ("Rating = 3", 3),
        ("I give it a grade of 9.", 9),
        ("Verdict: 2. It misses the point.", 2),
        ("8/10", 8),
        ("This deserves 6 out of 10.", 6),
        ("On a scale of 1-10, this is a 4.", 4),
        ("On a scale from 1 to 10 I'd say 5", 5),
        ("Between 1 and 10: 8", 8),
        ("7.5", 7.5),
        ("It mentions GPT4 and 2024, so 3.", 3),
        ("12 points? No: 9.", 9),
        ("1", 1),
    ],
)
def test_parse_score_formats(text, score):
    assert parse_score(text, 1, 10) == pytest.approx((score - 1) / 9)


@pytest.mark.parametrize(
    "text",
    ["", "I cannot grade this.", "Score: 0", "Score: 11", "15/10", "twelve", "-3", "It is v2 of the answer"],
)
def test_parse_score_refuses_what_holds_no_score_in_range(text):
    assert parse_score(text, 1, 10) is None


def test_parse_score_other_ranges():
    assert parse_score("Score: 3", 0, 5) == pytest.approx(0.6)
    assert parse_score("0", 0, 5) == 0.0
    assert parse_score("I'd say 75 out of 100", 0, 100) == pytest.approx(0.75)


def test_fill_rubric_fills_each_placeholder_once():
    text = fill_rubric(
        "Q {prompt} A {answer} R {reference} [{min}..{max}] {json}",
        prompt="p",
        answer="a says {reference}",
        reference="r",
        low=1,
        high=10,
    )
    assert text == "Q p A a says {reference} R r [1..10] {json}"
    default = fill_rubric(DEFAULT_RUBRIC, prompt="P?", answer="ANS", reference="REF", low=1, high=5)
    assert "P?" in default and "ANS" in default and "REF" in default and "from 1 to 5" in default
    assert "{" not in default


@pytest.fixture
def scripted_judge(monkeypatch):
    """The judge's generation replaced by verdicts chosen by the test; prompts are recorded."""
    seen: list[str] = []
    verdicts = ["Score: 8. Good.", "I am not sure.", "3/10", "Score: 42"]

    def fake(model, tokenizer, prompts, params, *, batch_size=8, **_):
        seen.extend(prompts)
        assert params.do_sample is False  # judges are greedy
        return [{"text": verdicts[i % len(verdicts)], "new_tokens": 3} for i in range(len(prompts))]

    monkeypatch.setattr(judge_module, "generate_answers", fake)
    return seen


def test_judge_grader_scores_and_keeps_its_words(tiny_model_dir, scripted_judge):
    spec = GraderSpec(kind="judge", judge_model_id=4)
    grader = build_graders([spec], model_paths={4: JudgeModel(str(tiny_model_dir))})[0]
    answers = ["a1", "a2", "a3", "a4"]
    scores, evidence = grader.score_explained(answers, ["r1", "r2", "r3", "r4"], questions=["q1"] * 4)
    assert scores == [pytest.approx(7 / 9), None, pytest.approx(2 / 9), None]
    assert [e["judge_text"] for e in evidence][:2] == ["Score: 8. Good.", "I am not sure."]
    assert [e["parsed"] for e in evidence] == [True, False, True, False]
    assert "a3" in scripted_judge[2] and "r3" in scripted_judge[2] and "q1" in scripted_judge[2]
    assert grader.name == "judge_m4"


def test_evaluation_with_a_judge_reports_evidence_and_unparseable(tiny_model_dir, scripted_judge):
    base = str(tiny_model_dir)
    spec = EvaluationSpec(
        graders=[GraderSpec(kind="judge", judge_model_id=1), GraderSpec(kind="length")],
        generation={"max_new_tokens": 4},
        perplexity=False,
        batch_size=4,
    )
    items = [item_from_row(i, {"instruction": f"Say {i}.", "output": str(i)}) for i in range(6)]
    result = run_evaluation(
        EvalRequest([ModelRef("m1", "base", base)], spec, items, grader_models={1: JudgeModel(base)})
    )
    figures = result["summary"]["task"]["models"]["m1"]["graders"]
    rows = [row["outputs"]["m1"] for row in result["rows"]]
    missing = [row["scores"]["judge_m1"] is None for row in rows]
    assert figures["judge_m1"]["unparseable"] == sum(missing) == 3
    assert figures["judge_m1"]["n"] == 3 and "unparseable" not in figures["length"]
    assert all(row["evidence"]["judge_m1"]["judge_text"] for row in rows)
    assert figures["judge_m1"]["mean"] == pytest.approx(sum(s for s in (7 / 9, 2 / 9, 7 / 9)) / 3)


def test_classifier_reward_spec_builds_the_same_grader(classifier_dir):
    fns, weights = build_rewards(
        [{"kind": "classifier", "classifier_model_id": 9, "label": "neutral", "weight": 0.5}],
        {},
        {9: str(classifier_dir)},
    )
    assert weights == [0.5] and fns[0].__name__ == "classifier_0"
    rewarded = fns[0](
        QUESTIONS, [[{"role": "assistant", "content": a}] for a in ANSWERS], plain_prompt=QUESTIONS
    )
    evaluated = _classifier(classifier_dir, "neutral").score(ANSWERS, prompts=QUESTIONS, questions=QUESTIONS)
    assert rewarded == pytest.approx(evaluated)
    with pytest.raises(ValueError, match="classifier model 9 has no folder"):
        build_rewards([{"kind": "classifier", "classifier_model_id": 9}], {}, {})


def test_specs_stored_before_model_graders_still_read():
    stored = {"kind": "rouge", "rouge_type": "rougeL", "classifier_job_id": None, "label": 1, "rubric": None}
    assert GraderSpec.model_validate(stored).label is None
    with pytest.raises(ValueError, match="classifier_model_id"):
        GraderSpec.model_validate({"kind": "classifier", "label": "positive"})
    with pytest.raises(ValueError, match=r"\{answer\}"):
        GraderSpec(kind="judge", judge_model_id=1, rubric="Rate {prompt}")
