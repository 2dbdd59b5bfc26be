"""An evaluation's summary as people read it: a table of figures, and plots where looking beats reading
(metric bars with their confidence intervals, win/tie/loss bars, gain beside forgetting). Plain functions."""

from __future__ import annotations

import html
import math

import pandas as pd
import plotly.graph_objects as go

#: what a person sees for each model: its name, with its id to tell two runs apart
WIN, TIE, LOSS = "#2e7d32", "#9e9e9e", "#c62828"


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"


def model_names(summary: dict) -> dict[str, str]:
    return {key: f"{name} ({key.removeprefix('m')})" for key, name in summary.get("models", {}).items()}


def _accuracy_markdown(summary: dict) -> str:
    names, human = model_names(summary), summary["human_agreement"]
    intro = (
        f"**{summary['task']['rows']} preference rows.** How often each reward model scores the chosen reply "
        f"above the rejected one (95 % interval). People agree with each other on "
        f"{human['low']:.0%}–{human['high']:.0%} of such comparisons ({human['source']})."
    )
    lines = [
        intro,
        "",
        "| reward model | accuracy | mean margin |",
        "|---|---|---|",
    ]
    for key, figures in summary["task"]["models"].items():
        acc, margin = figures["accuracy"], figures["margin"]
        lines.append(
            f"| {html.escape(names[key])} | {acc['mean']:.1%} [{acc['low']:.1%}, {acc['high']:.1%}] | "
            f"{_fmt(margin['mean'])} [{_fmt(margin['low'])}, {_fmt(margin['high'])}] |"
        )
    return "\n".join(lines)


def summary_markdown(summary: dict) -> str:
    """One row per model: each grader's mean [95 % interval], perplexity, answer length; then comparisons."""
    if not summary:
        return "No results yet."
    if summary.get("kind") == "preference_accuracy":
        return _accuracy_markdown(summary)
    names, graders = model_names(summary), summary["graders"]
    task = summary["task"]
    head = ["model", *graders, "perplexity", "answer tokens"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, figures in task["models"].items():
        cells = [html.escape(names[key])]
        for grader in graders:
            g = figures["graders"][grader]
            missing = f" · {g['unparseable']} unparseable" if g.get("unparseable") else ""
            cells.append(f"{_fmt(g['mean'])} [{_fmt(g['low'])}, {_fmt(g['high'])}]{missing}")
        cells.append(_fmt(figures.get("perplexity", {}).get("perplexity")))
        cells.append(f"{figures['mean_new_tokens']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    text = f"**{task['rows']} rows.** Mean with its 95 % bootstrap interval.\n\n" + "\n".join(lines)
    primary = graders[0]
    comparisons = task.get("comparisons", {})
    if comparisons:
        text += f"\n\n**Against the baseline** ({primary}, paired on the same rows):\n\n"
        text += "| model | wins | ties | losses | mean difference [95 %] | sign test p |\n"
        text += "|---|---|---|---|---|---|\n"
        for key, by_grader in comparisons.items():
            c = by_grader[primary]
            text += (
                f"| {html.escape(names[key])} | {c['wins']} | {c['ties']} | {c['losses']} | "
                f"{c['mean_difference']:+.3f} [{c['difference_low']:+.3f}, {c['difference_high']:+.3f}] | "
                f"{c['sign_test_p']:.3g} |\n"
            )
    for key, f in summary.get("forgetting", {}).items():
        flag = " ⚠ **forgetting above the threshold**" if f["flagged"] else ""
        text += (
            f"\n- {html.escape(names[key])}: task gain {f['task_gain']:+.3f}, general set "
            f"{f['general_before']:.3f} → {f['general_after']:.3f} ({-f['drop']:+.3f}){flag}"
        )
    for shots, figures in summary.get("few_shot", {}).items():
        g = figures[primary]
        interval = f"{_fmt(g['mean'])} [{_fmt(g['low'])}, {_fmt(g['high'])}]"
        text += f"\n- In-context baseline, {shots}: {primary} {interval}"
    return text


def metric_figure(summary: dict) -> go.Figure:
    """Grouped bars: each grader's mean per model, with the 95 % interval as error bars."""
    figure = go.Figure()
    if not summary:
        return figure
    if summary.get("kind") == "preference_accuracy":
        return _accuracy_figure(summary)
    names = model_names(summary)
    bounded = [
        g
        for g in summary["graders"]
        if all(0 <= m["graders"][g]["mean"] <= 1 for m in summary["task"]["models"].values())
    ]
    for key, figures in summary["task"]["models"].items():
        means = [figures["graders"][g]["mean"] for g in bounded]
        figure.add_bar(
            name=names[key],
            x=bounded,
            y=means,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [figures["graders"][g]["high"] - m for g, m in zip(bounded, means, strict=True)],
                "arrayminus": [m - figures["graders"][g]["low"] for g, m in zip(bounded, means, strict=True)],
            },
            hovertemplate="%{x}: %{y:.3f}<extra>%{fullData.name}</extra>",
        )
    figure.update_layout(
        barmode="group",
        title="Scores with 95 % intervals",
        yaxis={"range": [0, 1], "tickformat": ".2f"},
        height=360,
        margin={"t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.15},
    )
    return figure


def _accuracy_figure(summary: dict) -> go.Figure:
    """Accuracy bars with their intervals over the band of human agreement."""
    names, human = model_names(summary), summary["human_agreement"]
    models = summary["task"]["models"]
    acc = [m["accuracy"] for m in models.values()]
    figure = go.Figure()
    figure.add_hrect(
        y0=human["low"],
        y1=human["high"],
        fillcolor="#bbdefb",
        opacity=0.5,
        line_width=0,
        annotation_text="human agreement",
        annotation_position="top left",
    )
    figure.add_hline(y=0.5, line_dash="dot", annotation_text="chance", annotation_position="bottom right")
    figure.add_bar(
        x=[names[k] for k in models],
        y=[a["mean"] for a in acc],
        error_y={
            "type": "data",
            "symmetric": False,
            "array": [a["high"] - a["mean"] for a in acc],
            "arrayminus": [a["mean"] - a["low"] for a in acc],
        },
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
    )
    figure.update_layout(
        title="Pairwise accuracy with 95 % intervals",
        yaxis={"range": [0, 1], "tickformat": ".0%"},
        height=360,
        margin={"t": 50, "b": 40},
    )
    return figure


def wins_figure(summary: dict) -> go.Figure:
    """Stacked horizontal bars of wins, ties and losses against the baseline, per compared model."""
    figure = go.Figure()
    comparisons = (summary or {}).get("task", {}).get("comparisons", {})
    if not comparisons:
        return figure
    names, primary = model_names(summary), summary["graders"][0]
    labels = [names[key] for key in comparisons]
    for part, colour in (("wins", WIN), ("ties", TIE), ("losses", LOSS)):
        figure.add_bar(
            name=part,
            y=labels,
            x=[c[primary][part] for c in comparisons.values()],
            orientation="h",
            marker_color=colour,
            text=[c[primary][part] for c in comparisons.values()],
            textposition="inside",
        )
    figure.update_layout(
        barmode="stack",
        title=f"Rows won, tied and lost against the baseline ({primary})",
        height=120 + 60 * len(labels),
        margin={"t": 50, "b": 30, "l": 10},
        xaxis={"title": "rows", "dtick": 5},
        legend={"orientation": "h", "y": -0.3},
    )
    return figure


def rows_frame(rows: list[dict], summary: dict) -> pd.DataFrame:
    """The per-row table: the question and reference first, then each model's answer and headline score."""
    if not rows or not summary:
        return pd.DataFrame(columns=["row", "question", "reference"])
    names, primary = model_names(summary), summary["graders"][0]
    if summary.get("kind") == "preference_accuracy":
        return _preference_frame(rows, names)
    records = []
    for row in rows:
        question = next((m["content"] for m in reversed(row["messages"]) if m["role"] == "user"), "")
        record = {"row": row["row_index"] + 1, "question": question, "reference": row["reference"]}
        for key, output in row["outputs"].items():
            score = output["scores"].get(primary)
            record[f"{names.get(key, key)} · {primary}"] = float("nan") if score is None else round(score, 3)
            record[names.get(key, key)] = output["text"]
            for grader, evidence in output.get("evidence", {}).items():  # a judge's verdict, in its words
                record[f"{names.get(key, key)} · {grader} verdict"] = evidence.get("judge_text", "")
        records.append(record)
    return pd.DataFrame.from_records(records)


def _preference_frame(rows: list[dict], names: dict[str, str]) -> pd.DataFrame:
    records = []
    for row in rows:
        question = next((m["content"] for m in reversed(row["messages"]) if m["role"] == "user"), "")
        record = {"row": row["row_index"] + 1, "question": question, "chosen": row["reference"]}
        for key, output in row["outputs"].items():
            name = names.get(key, key)
            record[f"{name} · correct"] = "yes" if output["correct"] else "no"
            record[f"{name} · margin"] = round(output["chosen_score"] - output["rejected_score"], 3)
        records.append(record)
    return pd.DataFrame.from_records(records)
