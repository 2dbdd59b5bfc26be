"""The quality view of a labeling campaign (engineers and admins): agreement, per-labeler figures, bias
audits, and reward models trained from the campaign scored on its held-out labels next to the human agreement
ceiling, as a summary and bar charts. Hidden from labelers."""

from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.client import ApiError
from ui.labeling_client import LabelingClient
from ui.tabs.common import error_md


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def quality_summary(q: dict) -> str:
    threshold = q.get("agreement_threshold")
    below = threshold is not None and (q["percent_agreement"] or 0) < threshold
    lines = [
        f"**{q['labels']}** human labels from **{q['labelers']}** labelers · raw pairwise agreement "
        f"**{_pct(q['percent_agreement'])}** · Krippendorff's alpha **{_num(q['alpha'])}**"
        + (f" · below the threshold {threshold:.0%}: export will ask to confirm" if below else ""),
        (
            f"Left/first answer wins {_pct(q['position_bias']['first_shown_wins'])} of "
            f"{q['position_bias']['comparisons']} comparisons · longer answer wins "
            f"{_pct(q['length_bias']['longer_wins'])} of {q['length_bias']['comparisons']} · "
            f"median time per item {_num(q['median_seconds'])} s"
        ),
    ]
    if q["ai"]["labels"]:
        lines.append(
            f"AI judges (kept apart): {', '.join(q['ai']['judges'])}, {q['ai']['labels']} labels; "
            "agreement with the human majority: "
            + ", ".join(f"{j} {_pct(v)}" for j, v in q["ai"]["agreement_with_humans"].items())
        )
    lines += reward_lines(q)
    if q["worst_items"]:
        lines.append(
            "Lowest-agreement items: "
            + ", ".join(f"#{i['item_id']} ({_pct(i['agreement'])})" for i in q["worst_items"])
        )
    return "\n\n".join(lines)


def reward_lines(q: dict, scoring: dict | None = None) -> list[str]:
    """Reward models trained from the campaign: accuracy on its held-out labels against the human ceiling."""
    lines = []
    for m in q.get("reward_models") or []:
        where = (
            f"on {m['held_out_pairs']} held-out pairs (step {m['measured_at_step']})"
            if m["accuracy"] is not None
            else "not measured on the campaign's held-out labels"
        )
        lines.append(
            f"Reward model **{m['name']}** (job {m['job_id']}, {m['status']}"
            + (", orders the queue" if m["attached"] else "")
            + f"): accuracy **{_pct(m['accuracy'])}** {where} · human agreement ceiling "
            f"**{_pct(q.get('human_ceiling'))}**"
        )
    if scoring:
        lines.append(
            f"Queue ordered by reward job {scoring['reward_job_id']} (smallest margin first): scoring "
            f"{scoring['status']}, {scoring['scored']} of {scoring['candidates']} candidates scored"
            + (f" · {scoring['error']}" if scoring.get("error") else "")
        )
    return lines


def quality_figure(q: dict) -> go.Figure:
    """Per labeler: agreement with the others, Kendall tau, gold accuracy; and the two bias audits."""
    people = q["per_labeler"]
    names = [p["username"] for p in people]
    fig = make_subplots(
        rows=1,
        cols=3,
        column_widths=[0.5, 0.25, 0.25],
        subplot_titles=("Labelers", "Bias audits", "Reward models on held-out labels"),
    )
    for key, label in (
        ("agreement_with_others", "agreement with others"),
        ("kendall_tau", "Kendall tau"),
        ("gold_accuracy", "gold accuracy"),
    ):
        fig.add_bar(x=names, y=[p[key] for p in people], name=label, row=1, col=1)
    fig.add_bar(
        x=["left wins", "longer wins"],
        y=[q["position_bias"]["first_shown_wins"], q["length_bias"]["longer_wins"]],
        name="share",
        row=1,
        col=2,
        showlegend=False,
    )
    fig.add_hline(y=0.5, line_dash="dot", row=1, col=2)
    models = [m for m in q.get("reward_models") or [] if m["accuracy"] is not None]
    fig.add_bar(
        x=[f"job {m['job_id']}" for m in models],
        y=[m["accuracy"] for m in models],
        name="reward model accuracy",
        row=1,
        col=3,
    )
    if q.get("human_ceiling") is not None:
        fig.add_hline(y=q["human_ceiling"], line_dash="dash", row=1, col=3, annotation_text="human agreement")
    fig.update_layout(barmode="group", height=360, margin={"t": 40, "b": 40, "l": 40, "r": 10})
    return fig


def load_quality(api_url: str, token: str, campaign_id: int | None) -> tuple[str, go.Figure | None]:
    if not token or campaign_id is None:
        return "Choose a campaign.", None
    try:
        client = LabelingClient(api_url, token)
        q = client.quality(int(campaign_id))
        scoring = client.get_campaign(int(campaign_id)).get("reward_scoring")
    except ApiError as exc:
        return error_md(exc), None
    extra = reward_lines({}, scoring)
    return "\n\n".join([quality_summary(q), *extra]), quality_figure(q)


def may_see_quality(api_url: str, token: str) -> bool:
    try:
        return bool(token) and LabelingClient(api_url, token).me()["role"] != "labeler"
    except ApiError:
        return False


def build_quality_section(api_url: str, token: gr.State, campaign: gr.Dropdown) -> None:
    with gr.Accordion("Campaign quality", open=False, visible=False, elem_id="label-quality") as section:
        show = gr.Button("Show quality", elem_id="label-quality-show")
        summary = gr.Markdown(elem_id="label-quality-summary")
        plot = gr.Plot(elem_id="label-quality-plot")
    token.change(lambda t: gr.Accordion(visible=may_see_quality(api_url, t)), inputs=token, outputs=section)
    show.click(lambda t, c: load_quality(api_url, t, c), inputs=[token, campaign], outputs=[summary, plot])
