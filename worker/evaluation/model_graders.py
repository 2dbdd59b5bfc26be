"""Graders backed by a trained model: a reward model's score. They load weights, so they live apart from the
text graders; `build_graders` builds any mix of both.

    graders = build_graders(spec.graders, reward_model_paths={7: "/…/job-7/final"})
"""

from __future__ import annotations

from collections.abc import Sequence

from backend.schemas.evaluation import GraderSpec
from worker.evaluation.graders import Grader, build_grader
from worker.training.rewards import model_reward


def reward_model_grader(spec: GraderSpec, path: str) -> Grader:
    """The reward model's scalar score for (prompt, answer): unbounded, higher is better."""
    score = model_reward(path)

    def per_row(answers, _refs, columns):
        prompts = columns.get("prompts") or [""] * len(answers)
        return score(prompts, answers, plain_prompt=columns.get("questions") or prompts)

    return Grader(f"reward_{spec.reward_model_job_id}", per_row, bounds=(None, None))


def build_graders(
    specs: Sequence[GraderSpec], reward_model_paths: dict[int, str] | None = None
) -> list[Grader]:
    graders = []
    for spec in specs:
        if spec.kind == "model":
            path = (reward_model_paths or {}).get(spec.reward_model_job_id)
            if not path:
                raise ValueError(f"reward model job {spec.reward_model_job_id} has no model folder")
            graders.append(reward_model_grader(spec, path))
        else:
            graders.append(build_grader(spec))
    return graders
