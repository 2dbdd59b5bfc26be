"""Arena tab: two anonymous models answer your prompt; vote for the better answer; the names show after the
vote; the leaderboard ranks models by Bradley–Terry score over every vote, with 95 % intervals."""

from __future__ import annotations

import html
import time

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from ui.client import ApiError
from ui.tabs.common import client_for, error_md

VOTES = {"a": "A is better", "b": "B is better", "tie": "Tie", "both_bad": "Both are bad"}
WAIT_S = 120.0


# -- handlers (plain functions) ------------------------------------------------------------------------------


def pool_choices(api_url: str, token: str) -> list:
    if not token:
        return []
    try:
        models = client_for(api_url, token).list_models()
    except ApiError:
        return []
    return [(f"{m['name']} (#{m['id']})", m["id"]) for m in reversed(models)]


def battle(api_url: str, token: str, prompt: str, pool: list[int] | None, max_new_tokens: float):
    """(status, answer A, answer B, battle id). Waits for both answers (the inference worker writes them)."""
    if not prompt or not prompt.strip():
        return "**Write a prompt.**", "", "", None
    body = {"prompt": prompt, "max_new_tokens": int(max_new_tokens)}
    if pool:
        body["model_ids"] = [int(m) for m in pool]
    try:
        client = client_for(api_url, token)
        current = client.create_battle(body)
        deadline = time.monotonic() + WAIT_S
        while current["status"] == "generating" and time.monotonic() < deadline:
            time.sleep(0.5)
            current = client.get_battle(current["id"])
    except ApiError as exc:
        return error_md(exc), "", "", None
    if current["status"] == "failed":
        return f"**Generation failed:** {html.escape(current.get('error') or '')}", "", "", None
    if current["status"] != "ready":
        return "Still generating: is an inference worker running?", "", "", current["id"]
    return (
        f"Battle #{current['id']}: which answer is better?",
        current["answer_a"],
        current["answer_b"],
        current["id"],
    )


def vote(api_url: str, token: str, battle_id: int | None, choice: str) -> str:
    if not battle_id:
        return "**Start a battle first.**"
    try:
        result = client_for(api_url, token).vote_battle(int(battle_id), choice)
    except ApiError as exc:
        return error_md(exc)
    return (
        f"You voted **{VOTES[choice]}**. A was **{html.escape(result['model_a'])}**, "
        f"B was **{html.escape(result['model_b'])}**."
    )


def leaderboard(api_url: str, token: str) -> tuple[str, pd.DataFrame, go.Figure]:
    try:
        board = client_for(api_url, token).arena_leaderboard()
    except ApiError as exc:
        return error_md(exc), pd.DataFrame(), go.Figure()
    rows = board["rows"]
    frame = (
        pd.DataFrame.from_records(
            [
                {
                    "rank": i + 1,
                    "model": r["name"],
                    "score": round(r["score"], 2),
                    "95 % interval": f"[{r['low']:.2f}, {r['high']:.2f}]",
                    "battles": r["battles"],
                    "wins": r["wins"],
                }
                for i, r in enumerate(rows)
            ]
        )
        if rows
        else pd.DataFrame(columns=["rank", "model", "score"])
    )
    figure = go.Figure()
    if rows:
        figure.add_scatter(
            x=[r["score"] for r in rows],
            y=[r["name"] for r in rows],
            mode="markers",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [r["high"] - r["score"] for r in rows],
                "arrayminus": [r["score"] - r["low"] for r in rows],
            },
        )
    figure.update_layout(
        title="Bradley–Terry score with 95 % intervals",
        yaxis={"autorange": "reversed"},
        height=140 + 40 * len(rows),
        margin={"t": 50, "l": 10},
    )
    note = f"{board['votes']} votes, {board['decisive_votes']} decisive (A or B)."
    return note, frame, figure


# -- layout and wiring ---------------------------------------------------------------------------------------


def build_arena_tab(api_url: str, token: gr.State) -> gr.Tab:
    with gr.Tab("Arena", id="arena", elem_id="tab-arena") as tab:
        battle_id = gr.State(None)
        with gr.Row():
            prompt = gr.Textbox(label="Prompt", lines=3, scale=4, elem_id="arena-prompt")
            with gr.Column(scale=2):
                pool = gr.Dropdown(
                    [], multiselect=True, label="Models to draw from (empty: all)", elem_id="arena-pool"
                )
                max_new = gr.Number(128, label="Max new tokens", precision=0, minimum=1, maximum=2048)
        start = gr.Button("Battle", variant="primary", elem_id="arena-start")
        status = gr.Markdown("", elem_id="arena-status")
        with gr.Row(equal_height=True):
            answer_a = gr.Textbox(label="Answer A", lines=8, interactive=False, elem_id="arena-a")
            answer_b = gr.Textbox(label="Answer B", lines=8, interactive=False, elem_id="arena-b")
        with gr.Row():
            buttons = {key: gr.Button(label, elem_id=f"arena-vote-{key}") for key, label in VOTES.items()}
        gr.Markdown("### Leaderboard")
        board_note = gr.Markdown("", elem_id="arena-board-note")
        with gr.Row():
            board = gr.Dataframe(interactive=False, elem_id="arena-board", scale=3)
            board_plot = gr.Plot(elem_id="arena-board-plot", scale=2)
        refresh = gr.Button("Refresh leaderboard", size="sm", elem_id="arena-refresh")

        tab.select(lambda t: gr.Dropdown(choices=pool_choices(api_url, t)), inputs=token, outputs=pool)
        start.click(
            lambda t, p, m, n: battle(api_url, t, p, m, n),
            inputs=[token, prompt, pool, max_new],
            outputs=[status, answer_a, answer_b, battle_id],
        )
        for key, button in buttons.items():
            button.click(
                lambda t, b, choice=key: vote(api_url, t, b, choice),
                inputs=[token, battle_id],
                outputs=status,
            )
        refresh.click(
            lambda t: leaderboard(api_url, t), inputs=token, outputs=[board_note, board, board_plot]
        )
    return tab
