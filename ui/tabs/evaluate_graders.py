"""The model-backed graders of the Evaluate tab: a classifier's probability for a label and an LLM judge.
Both are optional; each becomes one grader spec sent to the API, which checks the model and the label."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

JUDGE_HELP = (
    "Empty: the default rubric (overall quality, 'Score: N' on the first line). A custom rubric must contain "
    "{answer} and may use {prompt}, {reference}, {min} and {max}."
)


def model_grader_specs(
    classifier=None, label="", judge=None, rubric="", score_min=1, score_max=10
) -> list[dict]:
    """The grader specs the chosen options stand for (none when no model is picked)."""
    specs = []
    if classifier:
        spec = {"kind": "classifier", "classifier_model_id": int(classifier)}
        if (label or "").strip():
            spec["label"] = label.strip()
        specs.append(spec)
    if judge:
        spec = {"kind": "judge", "judge_model_id": int(judge)}
        if (rubric or "").strip():
            spec["rubric"] = rubric
        if score_min is not None and score_max is not None:
            spec.update(score_min=int(score_min), score_max=int(score_max))
        specs.append(spec)
    return specs


@dataclass
class ModelGraders:
    classifier: gr.Dropdown
    label: gr.Textbox
    judge: gr.Dropdown
    rubric: gr.Textbox
    score_min: gr.Number
    score_max: gr.Number

    def inputs(self) -> list:
        return [self.classifier, self.label, self.judge, self.rubric, self.score_min, self.score_max]


def build_model_graders() -> ModelGraders:
    with gr.Accordion("Model graders (optional): a classifier or an LLM judge", open=False):
        with gr.Row():
            classifier = gr.Dropdown(
                [], value=None, label="Classifier or reward model", elem_id="eval-classifier", scale=2
            )
            label = gr.Textbox(
                "",
                label="Label whose probability counts",
                placeholder="e.g. positive (empty for a one-label reward model)",
                elem_id="eval-classifier-label",
                scale=2,
            )
        with gr.Row():
            judge = gr.Dropdown([], value=None, label="Judge model", elem_id="eval-judge", scale=2)
            score_min = gr.Number(1, label="Lowest score", precision=0, minimum=0, maximum=1000, scale=0)
            score_max = gr.Number(10, label="Highest score", precision=0, minimum=1, maximum=1000, scale=0)
        rubric = gr.Textbox("", label="Judge rubric", placeholder=JUDGE_HELP, lines=4, elem_id="eval-rubric")
    return ModelGraders(classifier, label, judge, rubric, score_min, score_max)
