"""Label tab: a labeler's queue. Guidelines, one item at a time with its candidates side by side, keyboard
shortcuts (1-9, t tie, b both bad, s skip, Enter submit), flags, drafts and progress."""

from __future__ import annotations

import html
import time

import gradio as gr

from ui.client import ApiError
from ui.labeling_client import LabelingClient
from ui.tabs.common import SIGNED_OUT, error_md
from ui.tabs.label_quality import build_quality_section, may_see_quality

PAIRWISE = ["A", "B", "tie", "both_bad"]

# Installed once per page: keys act only while the Label tab is showing and no text field has the focus
# (except Enter in the answer fields, which submits).
KEYS_JS = """
() => {
  if (window.__afinaLabelKeys) return;
  window.__afinaLabelKeys = true;
  const field = (id) => document.querySelector(`#${id} textarea, #${id} input`);
  const shown = (id) => { const el = document.getElementById(id); return el && el.offsetParent !== null; };
  const setText = (id, value) => {
    const el = field(id); if (!el) return;
    el.value = value; el.dispatchEvent(new Event('input', {bubbles: true}));
  };
  const pick = (value) => {
    const el = document.querySelector(`#label-choice input[value="${value}"]`); if (el) el.click();
  };
  document.addEventListener('keydown', (ev) => {
    if (!shown('label-submit') || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    const typing = t && (t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && t.type === 'text'));
    const inAnswer = typing && (t.closest('#label-ranking') || t.closest('#label-values'));
    if (ev.key === 'Enter' && (!typing || inAnswer)) {
      ev.preventDefault(); document.querySelector('#label-submit').click(); return;
    }
    if (typing) return;
    const key = ev.key.toLowerCase();
    const pairwise = shown('label-choice'), ranking = shown('label-ranking');
    if (key === 's') { ev.preventDefault(); document.querySelector('#label-skip').click(); return; }
    if (pairwise) {
      const map = {'1': 'A', '2': 'B', 'a': 'A', 't': 'tie', 'b': 'both_bad'};
      if (map[key]) { ev.preventDefault(); pick(map[key]); }
      return;
    }
    if (ranking) {
      const now = field('label-ranking').value.trim();
      if (/^[1-9]$/.test(key)) {
        ev.preventDefault();
        if (now.split(/[>=]/).includes(key)) return;
        const sep = now === '' || now.endsWith('=') ? '' : '>';
        setText('label-ranking', now === 'both bad' ? key : now + sep + key);
      } else if (key === 't' && now !== '' && !now.endsWith('=')) {
        ev.preventDefault(); setText('label-ranking', now + '=');
      } else if (key === 'b') { ev.preventDefault(); setText('label-ranking', 'both bad'); }
      else if (key === 'backspace') { ev.preventDefault(); setText('label-ranking', ''); }
    }
  });
}
"""


# -- handlers (plain functions) ------------------------------------------------------------------------


def _client(api_url: str, token: str) -> LabelingClient:
    if not token:
        raise ApiError(401, SIGNED_OUT)
    return LabelingClient(api_url, token)


def campaign_choices(api_url: str, token: str) -> tuple[list[tuple[str, int]], str]:
    try:
        campaigns = _client(api_url, token).list_campaigns()
    except ApiError as exc:
        return [], error_md(exc)
    return [(f"{c['name']} ({c['mode']}, {c['status']})", c["id"]) for c in campaigns], ""


def parse_answer(mode: str, choice: str | None, ranking: str, values: str) -> dict:
    """The API's answer object from the form: a pairwise choice, '2>1=3', '1+ 2-' or '1:6 2:3'."""
    text = (ranking if mode == "rank" else values or "").strip()
    if mode == "pairwise":
        if choice not in PAIRWISE:
            raise ValueError("Choose A, B, tie or both bad (keys 1, 2, t, b).")
        return {"choice": choice}
    if text.lower() in ("both bad", "both_bad", "b"):
        return {"choice": "both_bad"}
    if mode == "rank":
        tiers = [[int(p) for p in tier.split("=") if p.strip()] for tier in text.split(">") if tier.strip()]
        if not tiers:
            raise ValueError(
                "Rank the candidates, best first: press their numbers (t ties with the previous)."
            )
        return {"ranking": tiers}
    parts = [p for p in text.replace(",", " ").split() if p]
    if mode == "thumbs":
        if not all(p[-1] in "+-" for p in parts) or not parts:
            raise ValueError("Give a thumb per candidate, e.g. '1+ 2- 3+'.")
        return {"thumbs": {p[:-1]: p[-1] == "+" for p in parts}}
    try:
        return {"ratings": {k: int(v) for k, v in (p.split(":") for p in parts)}}
    except ValueError:
        raise ValueError("Give a rating 1-7 per candidate, e.g. '1:6 2:3'.") from None


def _flags(checked: list[str] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for entry in checked or []:
        position, _, name = entry.partition(": ")
        out.setdefault(position, []).append(name)
    return out


def render_prompt(item: dict) -> str:
    turns = "".join(
        f"<div class='label-turn'><b>{html.escape(m['role'])}</b><div style='white-space:pre-wrap'>"
        f"{html.escape(m['content'])}</div></div>"
        for m in item["prompt"]
    )
    return f"<div id='label-prompt-text'>{turns}</div>"


def render_candidates(item: dict) -> str:
    letters = "AB" if item["mode"] == "pairwise" else None
    cells = "".join(
        "<div class='label-candidate' style='flex:1;min-width:200px;border:1px solid #ccc;border-radius:8px;"
        "padding:8px'>"
        f"<div><b>{letters[c['position'] - 1] if letters else c['position']}</b> "
        f"<span style='opacity:.6'>(key {c['position']})</span></div>"
        f"<div style='white-space:pre-wrap'>{html.escape(c['text']) or '<i>(empty)</i>'}</div></div>"
        for c in item["candidates"]
    )
    return f"<div style='display:flex;gap:12px;flex-wrap:wrap'>{cells}</div>"


def progress_md(progress: dict) -> str:
    if not progress:
        return ""
    return (
        f"You labeled **{progress.get('mine', 0)}** · campaign: {progress['labels']} of "
        f"{progress['target_labels']} labels, {progress['complete_items']} of {progress['items']} items done"
    )


def load_next(api_url: str, token: str, campaign_id: int | None) -> tuple[dict | None, str, str]:
    """(item or None, guidelines, message)."""
    if campaign_id is None:
        return None, "", "Choose a campaign."
    try:
        client = _client(api_url, token)
        campaign = client.get_campaign(int(campaign_id))
        item = client.next_item(int(campaign_id))
    except ApiError as exc:
        return None, "", error_md(exc)
    if item is None:
        return (
            None,
            campaign["guidelines"],
            f"**Nothing left for you in this campaign.** {progress_md(campaign['progress'])}",
        )
    return item, campaign["guidelines"], ""


def send(
    api_url: str, token: str, item: dict | None, answer: dict, flags, seconds: float, draft: bool
) -> str:
    if item is None:
        return "No item loaded."
    client = _client(api_url, token)
    call = client.save_draft if draft else client.submit
    call(item["campaign_id"], item["assignment_id"], answer, flags=_flags(flags), seconds=round(seconds, 2))
    return "Draft saved." if draft else ""


# -- layout and wiring ---------------------------------------------------------------------------------


def _show(item: dict | None, guidelines: str, message: str, panel: dict) -> dict:
    mode = item["mode"] if item else None
    draft = (item or {}).get("draft") or {}
    answer = draft.get("answer") or {}
    flag_choices = (
        [f"{c['position']}: {f}" for c in item["candidates"] for f in item["flags"]] if item else []
    )
    return {
        panel["current"]: item,
        panel["started"]: time.monotonic(),
        panel["guidelines"]: guidelines,
        panel["progress"]: progress_md(item["progress"]) if item else "",
        panel["prompt"]: render_prompt(item) if item else "",
        panel["candidates"]: render_candidates(item) if item else "",
        panel["choice"]: gr.Radio(visible=mode == "pairwise", value=answer.get("choice")),
        panel["ranking"]: gr.Textbox(visible=mode == "rank", value=""),
        panel["values"]: gr.Textbox(visible=mode in ("thumbs", "rating"), value=""),
        panel["flags"]: gr.CheckboxGroup(choices=flag_choices, value=[], visible=bool(item)),
        panel["message"]: message,
    }


def _answer_fields() -> dict:
    return {
        "choice": gr.Radio(
            PAIRWISE,
            label="Which is better? Keys: 1 = A, 2 = B, t tie, b both bad",
            elem_id="label-choice",
            visible=False,
        ),
        "ranking": gr.Textbox(
            label="Ranking, best first (keys: numbers in order, t = tie with the previous, "
            "b = all bad, Backspace clears)",
            elem_id="label-ranking",
            visible=False,
        ),
        "values": gr.Textbox(
            label="Thumbs '1+ 2-' or ratings '1:6 2:3'", elem_id="label-values", visible=False
        ),
        "flags": gr.CheckboxGroup(label="Flags", choices=[], elem_id="label-flags", visible=False),
    }


def _layout() -> tuple[gr.Tab, gr.Dropdown, dict, dict]:
    """(tab, campaign picker, panel of components handlers update, buttons)."""
    with gr.Tab("Label", id="label", elem_id="tab-label") as tab:
        with gr.Row():
            campaign = gr.Dropdown(label="Campaign", choices=[], elem_id="label-campaign", scale=4)
            start = gr.Button("Start labeling", variant="primary", elem_id="label-start", scale=1)
        with gr.Accordion("Guidelines", open=True):
            guidelines = gr.Markdown(elem_id="label-guidelines")
        panel = {
            "guidelines": guidelines,
            "progress": gr.Markdown(elem_id="label-progress"),
            "prompt": gr.HTML(elem_id="label-prompt"),
            "candidates": gr.HTML(elem_id="label-candidates"),
            **_answer_fields(),
        }
        with gr.Row():
            buttons = {
                "start": start,
                "submit": gr.Button("Submit (Enter)", variant="primary", elem_id="label-submit"),
                "skip": gr.Button("Skip (s)", elem_id="label-skip"),
                "draft": gr.Button("Save draft", elem_id="label-draft"),
            }
        panel["message"] = gr.Markdown(elem_id="label-message")
        panel["current"], panel["started"] = gr.State(None), gr.State(0.0)
    return tab, campaign, panel, buttons


def build_label_tab(api_url: str, token: gr.State) -> gr.Tab:
    tab, campaign, panel, buttons = _layout()
    with tab:
        build_quality_section(api_url, token, campaign)
    outputs = list(panel.values())

    def _refresh(token_value):
        choices, note = campaign_choices(api_url, token_value)
        return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None), note

    token.change(_refresh, inputs=token, outputs=[campaign, panel["message"]])
    token.change(None, js=KEYS_JS)
    tab.select(_refresh, inputs=token, outputs=[campaign, panel["message"]])

    def _start(token_value, campaign_id):
        return _show(*load_next(api_url, token_value, campaign_id), panel)

    buttons["start"].click(_start, inputs=[token, campaign], outputs=outputs)

    def _auto_start(token_value, campaign_id):
        # A labeler's first item loads by itself (keyboard only from the start); an engineer who opens the
        # tab claims nothing until they press Start.
        if not may_see_quality(api_url, token_value):
            return _start(token_value, campaign_id)
        return {panel["message"]: "Press **Start labeling** to label this campaign yourself."}

    campaign.change(_auto_start, inputs=[token, campaign], outputs=outputs)

    def _answer(token_value, campaign_id, item, started, choice, ranking, values, flags, as_draft):
        try:
            answer = parse_answer(item["mode"], choice, ranking, values) if item else {}
            note = send(api_url, token_value, item, answer, flags, time.monotonic() - started, as_draft)
        except ValueError as exc:
            return {panel["message"]: f"**{html.escape(str(exc))}**"}
        except ApiError as exc:
            return {panel["message"]: error_md(exc)}
        if as_draft:
            return {panel["message"]: note}
        return _show(*load_next(api_url, token_value, campaign_id), panel)

    fields = [
        token,
        campaign,
        panel["current"],
        panel["started"],
        panel["choice"],
        panel["ranking"],
        panel["values"],
        panel["flags"],
    ]
    buttons["submit"].click(lambda *a: _answer(*a, False), inputs=fields, outputs=outputs)
    buttons["draft"].click(lambda *a: _answer(*a, True), inputs=fields, outputs=outputs)

    def _skip(token_value, campaign_id, item):
        if item is not None:
            try:
                _client(api_url, token_value).skip(item["campaign_id"], item["assignment_id"])
            except ApiError as exc:
                return {panel["message"]: error_md(exc)}
        return _show(*load_next(api_url, token_value, campaign_id), panel)

    buttons["skip"].click(_skip, inputs=[token, campaign, panel["current"]], outputs=outputs)
    return tab
