"""build_app(api_url) -> gr.Blocks: the studio's web UI, a client of the REST API and nothing else.

    blocks = build_app("http://127.0.0.1:7860")
    app = gr.mount_gradio_app(fastapi_app, blocks, path="/ui")     # what `afina api` does

A login form comes first; the token it returns lives in a gr.State on the server (no two sessions share
anything) and, for the browser, only in an HttpOnly session cookie (backend.api.ui_gate) that page
JavaScript cannot read. A reload or a second tab reads that cookie from the page-load request and stays
signed in; logging out revokes the token on the server and drops the cookie. Each tab is built by its own
module in ui/tabs/.

Every event that takes the password or the token is private: Gradio neither lists it on its API page nor
records it in the browser's run history (which `afina api` also switches off as a whole).
"""

from __future__ import annotations

import argparse
import html
from functools import partial
from http.cookies import CookieError, SimpleCookie

import gradio as gr

from ui.client import AfinaClient, ApiError
from ui.tabs.arena import build_arena_tab
from ui.tabs.common import error_text
from ui.tabs.compare import build_compare_tab
from ui.tabs.datasets import build_datasets_tab
from ui.tabs.evaluate import build_evaluate_tab
from ui.tabs.generate import build_generate_tab
from ui.tabs.jobs import POLL_SECONDS, build_jobs_tab
from ui.tabs.label import build_label_tab
from ui.tabs.runs import build_runs_tab
from ui.tabs.train import build_train_tab

# Event handlers mostly wait on HTTP; let several sessions' calls run at once.
CONCURRENCY = 16

# The browser trades the login's one-time ticket for the HttpOnly session cookie (backend.api.ui_gate), and
# forgets that cookie at logout. Same origin: the UI is mounted beside the API.
SESSION_COOKIE = "afina_ui_session"
OPEN_UPLOAD_SESSION_JS = """(ticket) => { if (ticket) { fetch('/api/auth/ui-session', {method: 'POST',
  headers: {'Content-Type': 'application/json'}, body: JSON.stringify({ticket}),
  credentials: 'same-origin'}); } }"""
CLOSE_UPLOAD_SESSION_JS = (
    "() => { fetch('/api/auth/ui-session', {method: 'DELETE', credentials: 'same-origin'}); }"
)


# Tables read as tables at 1024 px too: a header stays whole words (Gradio's measured widths squeezed some to
# one letter per line), cell text wraps within its column, and no column grows wider than a paragraph.
CSS = """
#studio table th.header-cell { min-width: max-content !important; }
#studio table th .header-content, #studio table th span.header {
  white-space: nowrap !important; word-break: keep-all !important; overflow-wrap: normal !important; }
#studio [role=gridcell] { overflow-wrap: anywhere; word-break: normal; }
"""


def upload_ticket(api_url: str, token: str) -> str:
    """A one-time ticket for the browser's upload session; '' when the API cannot give one."""
    if not token:
        return ""
    try:
        return AfinaClient(api_url, token=token).ui_ticket()
    except ApiError:
        return ""


def login(
    api_url: str, username: str, password: str, client_address: str | None = None
) -> tuple[str, dict | None, str, str, str]:
    """(token, the API's OpenAPI document, message, header, role) — token '' when refused.

    client_address: the browser's address, so the API's per-address login limit counts the person, not the
    UI server."""
    if not username or not password:
        return "", None, "**Enter your username and password.**", "", ""
    client = AfinaClient(api_url)
    try:
        client.login(username.strip(), password, on_behalf_of=client_address)
        return _signed_in(client)
    except ApiError as exc:
        return "", None, f"**{html.escape(error_text(exc) if exc.status != 401 else exc.message)}**", "", ""


def _signed_in(client: AfinaClient) -> tuple[str, dict | None, str, str, str]:
    user, doc = client.me(), client.openapi()
    header = f"Signed in as **{html.escape(user['username'])}** ({user['role']})"
    return client.token or "", doc, "", header, user["role"]


def session_token(cookie_header: str | None) -> str:
    """The token in the browser's session cookie (from a request's Cookie header); '' when there is none."""
    if not cookie_header:
        return ""
    try:
        morsel = SimpleCookie(cookie_header).get(SESSION_COOKIE)
    except CookieError:
        return ""
    return morsel.value if morsel else ""


def resume(api_url: str, cookie_header: str | None) -> tuple[str, dict | None, str, str, str]:
    """What `login` returns, for a page (re)load whose request carries a live session cookie; token '' when
    there is no cookie or the API refuses it (revoked, expired), so the login form shows."""
    token = session_token(cookie_header)
    if not token:
        return "", None, "", "", ""
    try:
        return _signed_in(AfinaClient(api_url, token=token))
    except ApiError as exc:
        message = "" if exc.status == 401 else f"**{html.escape(error_text(exc))}**"
        return "", None, message, "", ""


def logout(api_url: str, token: str) -> str:
    """Revoke the session's token on the server; '' when done, else why not (the UI forgets it anyway)."""
    if not token:
        return ""
    try:
        AfinaClient(api_url, token).logout()
    except ApiError as exc:
        # Already expired or revoked: the goal is reached. Anything else: say so, the token may still live.
        return (
            "" if exc.status == 401 else f"**Logout could not reach the server: {html.escape(exc.message)}**"
        )
    return ""


def keep_secrets_private(demo: gr.Blocks, secrets: list[gr.components.Component]) -> None:
    """Make every event that takes one of `secrets` (the password, the token) private: Gradio records only
    public events in its run history and API recorder, and lists only public ones on its API page."""
    secret_ids = {component._id for component in secrets}
    for fn in demo.fns.values():
        if any(component._id in secret_ids for component in [*fn.inputs, *fn.outputs]):
            fn.api_visibility = "private"


def tabs_for_role(role_value: str, studio_tab_count: int) -> tuple:
    """The Tabs update and one update per studio tab: a labeler sees the Label tab and nothing else.

    Gradio 6 drops a tab's button only for visible="hidden", and only once its Tabs are on screen: hence a
    step after the login."""
    labeler = role_value == "labeler"
    hidden = [gr.Tab(visible="hidden" if labeler else True) for _ in range(studio_tab_count)]
    return gr.Tabs(selected="label" if labeler else "datasets"), *hidden


def build_app(api_url: str) -> gr.Blocks:
    """The whole studio UI, talking to the REST API at api_url."""
    with gr.Blocks(title="Afina studio", analytics_enabled=False) as demo:
        token = gr.State("")
        ticket = gr.Textbox("", visible=False, elem_id="upload-ticket")  # one-time, for the upload cookie
        role = gr.State("")  # the signed-in user's role: which tabs they see
        api_doc = gr.State(None)  # the API's OpenAPI document: job spec and generation fields with their help
        # Outside every tab: a timer updated from inside a gr.Tabs confuses Gradio's tab bar.
        jobs_timer = gr.Timer(POLL_SECONDS, active=False)

        # Hidden until the page-load handler knows whether the session cookie still signs this browser in.
        with gr.Column(visible=False, elem_id="login-panel") as login_panel, gr.Row():
            gr.Column(scale=1, min_width=0)
            with gr.Column(scale=1, min_width=360):
                gr.Markdown("# Afina\nFine-tune, align and compare open language models. Log in to continue.")
                username = gr.Textbox(label="Username", elem_id="login-username", autofocus=True)
                password = gr.Textbox(label="Password", type="password", elem_id="login-password")
                login_button = gr.Button("Log in", variant="primary", elem_id="login-button")
                login_message = gr.Markdown("", elem_id="login-message")
            gr.Column(scale=1, min_width=0)

        with gr.Column(visible=False, elem_id="studio") as studio:
            with gr.Row(equal_height=True):
                gr.Markdown("## Afina studio", elem_id="studio-title")
                who = gr.Markdown("", elem_id="studio-user")
                logout_button = gr.Button("Log out", size="sm", scale=0, elem_id="logout-button")
            with gr.Tabs(elem_id="studio-tabs") as tabs:
                datasets_tab = build_datasets_tab(api_url, token)
                train_tab = build_train_tab(api_url, token, api_doc)
                jobs_tab = build_jobs_tab(api_url, token, jobs_timer)
                compare_tab = build_compare_tab(api_url, token, api_doc)
                evaluate_tab = build_evaluate_tab(api_url, token)
                generate_tab = build_generate_tab(api_url, token)
                runs_tab = build_runs_tab(api_url, token)
                arena_tab = build_arena_tab(api_url, token)
                label_tab = build_label_tab(api_url, token)
        studio_tabs = (
            datasets_tab,
            train_tab,
            jobs_tab,
            compare_tab,
            evaluate_tab,
            generate_tab,
            runs_tab,
            arena_tab,
        )

        # Poll jobs only while their tab is open.
        jobs_tab.select(lambda: gr.Timer(active=True), outputs=jobs_timer)
        for other in (datasets_tab, train_tab, compare_tab, evaluate_tab, runs_tab, arena_tab, label_tab):
            other.select(lambda: gr.Timer(active=False), outputs=jobs_timer)

        def _outcome(answer: tuple, ticket_value: str) -> tuple:
            token_value, doc, message, header, role_value = answer
            signed_in = bool(token_value)
            return (
                token_value,
                doc if signed_in else gr.skip(),
                message,
                header,
                gr.Column(visible=not signed_in),
                gr.Column(visible=signed_in),
                "",
                ticket_value,
                role_value,
            )

        def _login(username_value: str, password_value: str, request: gr.Request):
            address = request.client.host if request and request.client else None
            answer = login(api_url, username_value, password_value, address)
            return _outcome(answer, upload_ticket(api_url, answer[0]))

        def _resume(request: gr.Request):
            # The cookie already exists: no new ticket is needed.
            return _outcome(resume(api_url, request.headers.get("cookie") if request else None), "")

        show_tabs = partial(tabs_for_role, studio_tab_count=len(studio_tabs))
        login_outputs = [token, api_doc, login_message, who, login_panel, studio, password, ticket, role]
        for trigger in (login_button.click, password.submit):
            trigger(_login, inputs=[username, password], outputs=login_outputs).then(
                None, inputs=[ticket], js=OPEN_UPLOAD_SESSION_JS
            ).then(show_tabs, inputs=role, outputs=[tabs, *studio_tabs])
        demo.load(_resume, outputs=login_outputs).then(show_tabs, inputs=role, outputs=[tabs, *studio_tabs])

        def _logout(token_value: str):
            message = logout(api_url, token_value)
            return "", "", message, gr.Column(visible=True), gr.Column(visible=False), gr.Timer(active=False)

        logout_button.click(
            _logout, inputs=[token], outputs=[token, who, login_message, login_panel, studio, jobs_timer]
        ).then(None, js=CLOSE_UPLOAD_SESSION_JS)
        keep_secrets_private(demo, [password, token, ticket])

    demo.queue(default_concurrency_limit=CONCURRENCY)
    return demo


def main() -> None:  # pragma: no cover - a developer convenience: the UI alone against a running API
    parser = argparse.ArgumentParser(description="Serve the Afina UI against a running REST API.")
    parser.add_argument("--api-url", default="http://127.0.0.1:7860")
    parser.add_argument("--port", type=int, default=7870)
    args = parser.parse_args()
    build_app(args.api_url).launch(server_port=args.port, run_history=False, css=CSS)


if __name__ == "__main__":  # pragma: no cover
    main()
