"""Graders backed by a trained model: a reward model's score, a classifier's probability for a label, and an
LLM judge's parsed verdict. They load weights, so they live apart from the text graders; `build_graders`
builds any mix of all of them.

    graders = build_graders(
        spec.graders,
        reward_model_paths={7: "/…/job-7/final"},
        model_paths={3: JudgeModel("/…/classifier"), 5: JudgeModel("/…/adapter", base_path="/…/base")},
    )
"""

from __future__ import annotations

from collections.abc import Sequence

from backend.schemas.evaluation import GraderSpec
from worker.evaluation.graders import Grader, build_grader
from worker.evaluation.judge import JudgeModel, judge_grader
from worker.training.rewards import classifier_grader, model_reward, scored_by


def reward_model_grader(spec: GraderSpec, path: str) -> Grader:
    """The reward model's scalar score for (prompt, answer): unbounded, higher is better."""
    return Grader(f"reward_{spec.reward_model_job_id}", scored_by(model_reward(path)), bounds=(None, None))


def _model(spec: GraderSpec, model_id: int, model_paths: dict[int, JudgeModel] | None) -> JudgeModel:
    found = (model_paths or {}).get(model_id)
    if found is None:
        raise ValueError(f"grader {spec.kind}: model {model_id} has no folder on this worker")
    return found


def build_graders(
    specs: Sequence[GraderSpec],
    reward_model_paths: dict[int, str] | None = None,
    model_paths: dict[int, JudgeModel] | None = None,
    *,
    batch_size: int = 8,
    device: str = "cpu",
) -> list[Grader]:
    graders = []
    for spec in specs:
        if spec.kind == "model":
            path = (reward_model_paths or {}).get(spec.reward_model_job_id)
            if not path:
                raise ValueError(f"reward model job {spec.reward_model_job_id} has no model folder")
            graders.append(reward_model_grader(spec, path))
        elif spec.kind == "classifier":
            path = _model(spec, spec.classifier_model_id, model_paths).path
            graders.append(classifier_grader(spec.label_name, path, spec.label))
        elif spec.kind == "judge":
            judge = _model(spec, spec.judge_model_id, model_paths)
            graders.append(judge_grader(spec, judge, batch_size=batch_size, device=device))
        else:
            graders.append(build_grader(spec))
    return graders
