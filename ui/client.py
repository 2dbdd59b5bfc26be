"""A small httpx client of the Afina REST API: one method per route the UI uses.

    client = AfinaClient("http://127.0.0.1:7860")
    token = client.login("admin", "secret")          # the client now sends it with every request
    jobs = client.list_jobs()["items"]

Errors:

    ApiError                 any answer that is not 2xx, or no answer at all
        .status              the HTTP status (0 when the server could not be reached)
        .message             the server's message, meant for a person
        .code                the server's machine-readable code ("invalid", "not_found", ...)
        .details             the server's details: the validation report of a refused upload, the fields
                             of a refused job spec, ...
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

# Generation waits on the server (?wait=) up to this long per call; the client allows a margin on top.
GENERATION_WAIT_S = 120.0
# Dataset views run on a worker (it has the tokenizer); the server waits this long for them.
PREVIEW_WAIT_S = 60.0
PROFILE_WAIT_S = 120.0
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class ApiError(Exception):
    """The REST API refused a request (4xx/5xx) or could not be reached (status 0)."""

    def __init__(self, status: int, message: str, details: Any = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.code = code

    def __str__(self) -> str:
        return self.message


class AfinaClient:
    """A client of the REST API for one user: cheap to create, holds nothing but the URL and the token."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: httpx.Timeout | float = _TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._timeout = timeout
        self._transport = transport

    # -- plumbing ------------------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        headers = {**(headers or {}), **({"Authorization": f"Bearer {self.token}"} if self.token else {})}
        try:
            with httpx.Client(
                base_url=self.base_url, timeout=timeout or self._timeout, transport=self._transport
            ) as http:
                response = http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"The Afina server at {self.base_url} could not be reached ({exc}).") from exc
        if response.is_success:
            return response.json() if response.content else None
        raise _error_from(response)

    # -- auth ----------------------------------------------------------------------------------------------

    def login(self, username: str, password: str, *, on_behalf_of: str | None = None) -> str:
        """Exchange a username and password for a token; the client keeps and sends it from now on.

        on_behalf_of: the address of the person logging in when this client relays for them (the UI server),
        so the API's per-address login limit counts them and not the relay. The API honours it only from a
        trusted proxy address (uvicorn's --forwarded-allow-ips, 127.0.0.1 by default)."""
        headers = {"X-Forwarded-For": on_behalf_of} if on_behalf_of else {}
        data = self._request(
            "POST", "/api/auth/login", json={"username": username, "password": password}, headers=headers
        )
        self.token = data["token"]
        return self.token

    def logout(self) -> None:
        """Revoke the token this client holds (the server refuses it from now on) and forget it."""
        if self.token:
            self._request("POST", "/api/auth/logout")
            self.token = None

    def me(self) -> dict:
        return self._request("GET", "/api/auth/me")

    def ui_ticket(self) -> str:
        """A one-time ticket the browser trades for its upload cookie (the UI upload route needs a login)."""
        return self._request("POST", "/api/auth/ui-ticket")["ticket"]

    def openapi(self) -> dict:
        """The API's OpenAPI document: the job spec schema (fields, ranges, help) drives the Train form."""
        return self._request("GET", "/openapi.json")

    # -- models --------------------------------------------------------------------------------------------

    def list_models(self) -> list[dict]:
        return self._request("GET", "/api/models")

    def get_model(self, model_id: int) -> dict:
        return self._request("GET", f"/api/models/{model_id}")

    # -- datasets ------------------------------------------------------------------------------------------

    def upload_dataset(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        description: str = "",
        format: str | None = None,
        mapping: dict | None = None,
        options: dict | None = None,
    ) -> dict:
        """Upload a file; a refused file raises ApiError whose details are the validation report."""
        path = Path(path)
        form = {"description": description}
        if name:
            form["name"] = name
        if format:
            form["format"] = format
        if mapping:
            form["mapping"] = json.dumps(mapping)
        if options:
            form["options"] = json.dumps(options)
        with path.open("rb") as fh:
            return self._request(
                "POST", "/api/datasets", data=form, files={"file": (path.name, fh)}, timeout=300.0
            )

    def list_datasets(self) -> list[dict]:
        return self._request("GET", "/api/datasets")

    def set_visibility(self, resource: str, row_id: int, visibility: str) -> dict:
        """Share one of your datasets, jobs, models or campaigns: visibility "shared" or "private".

        resource: datasets, jobs, models or labeling/campaigns."""
        return self._request("PATCH", f"/api/{resource}/{row_id}", json={"visibility": visibility})

    def get_dataset(self, dataset_id: int) -> dict:
        return self._request("GET", f"/api/datasets/{dataset_id}")

    def get_version(self, version_id: int) -> dict:
        return self._request("GET", f"/api/datasets/versions/{version_id}")

    def version_rows(self, version_id: int, *, offset: int = 0, limit: int = 20) -> dict:
        return self._request(
            "GET", f"/api/datasets/versions/{version_id}/rows", params={"offset": offset, "limit": limit}
        )

    def apply_operation(self, version_id: int, body: dict) -> list[dict]:
        """Clean or split a version ({"op": "dedup_exact" | "dedup_near" | "filter_length" | "split", ...});
        returns the new version(s), each with its operation and stats."""
        return self._request(
            "POST", f"/api/datasets/versions/{version_id}/operations", json=body, timeout=300.0
        )

    def export_version(self, version_id: int, fmt: str, dest_dir: str | Path) -> Path:
        """Download a version as "jsonl" or "parquet" into dest_dir; returns the file (server's name)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            with (
                httpx.Client(
                    base_url=self.base_url,
                    timeout=httpx.Timeout(300.0, connect=5.0),
                    transport=self._transport,
                ) as http,
                http.stream(
                    "GET", f"/api/datasets/versions/{version_id}/export", params={"fmt": fmt}, headers=headers
                ) as response,
            ):
                if not response.is_success:
                    response.read()
                    raise _error_from(response)
                path = Path(dest_dir) / _attachment_name(response, f"version-{version_id}.{fmt}")
                with path.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"The Afina server at {self.base_url} could not be reached ({exc}).") from exc
        return path

    def preview_template(self, version_id: int, body: dict, *, wait: float = PREVIEW_WAIT_S) -> dict:
        """One row as the trainer tokenizes it, each token with its loss flag (an inference request)."""
        return self._request(
            "POST",
            f"/api/datasets/versions/{version_id}/preview",
            json=body,
            params={"wait": wait},
            timeout=wait + 30,
        )

    def profile_version(self, version_id: int, body: dict, *, wait: float = PROFILE_WAIT_S) -> dict:
        """Token-length profile of a version (an inference request); the server also stores it."""
        return self._request(
            "POST",
            f"/api/datasets/versions/{version_id}/profile",
            json=body,
            params={"wait": wait},
            timeout=wait + 30,
        )

    # -- jobs ----------------------------------------------------------------------------------------------

    def create_job(self, body: dict) -> dict:
        return self._request("POST", "/api/jobs", json=body)

    def list_jobs(self, *, offset: int = 0, limit: int = 50) -> dict:
        return self._request("GET", "/api/jobs", params={"offset": offset, "limit": limit})

    def get_job(self, job_id: int) -> dict:
        return self._request("GET", f"/api/jobs/{job_id}")

    def job_checkpoints(self, job_id: int) -> list[dict]:
        return self._request("GET", f"/api/jobs/{job_id}/checkpoints")

    def job_events(self, job_id: int, *, after_id: int = 0) -> list[dict]:
        return self._request("GET", f"/api/jobs/{job_id}/events", params={"after_id": after_id})

    def job_action(self, job_id: int, action: str) -> dict:
        """cancel, pause or resume a job."""
        if action not in ("cancel", "pause", "resume"):
            raise ValueError(f"unknown job action {action!r}")
        return self._request("POST", f"/api/jobs/{job_id}/{action}")

    # -- generation ----------------------------------------------------------------------------------------

    def generate(self, body: dict, *, wait: float = GENERATION_WAIT_S) -> dict:
        """Submit a generation and wait (on the server) up to `wait` seconds for the answers."""
        return self._request("POST", "/api/generations", json=body, params={"wait": wait}, timeout=wait + 30)

    def get_generation(self, request_id: int, *, wait: float = GENERATION_WAIT_S) -> dict:
        return self._request(
            "GET", f"/api/generations/{request_id}", params={"wait": wait}, timeout=wait + 30
        )

    def compare_runs(self, job_ids: list[int]) -> dict:
        return self._request("GET", "/api/runs/compare", params={"job_ids": job_ids})

    # -- arena -----------------------------------------------------------------------------------------------

    def create_battle(self, body: dict) -> dict:
        return self._request("POST", "/api/arena/battles", json=body)

    def get_battle(self, battle_id: int) -> dict:
        return self._request("GET", f"/api/arena/battles/{battle_id}")

    def vote_battle(self, battle_id: int, vote: str) -> dict:
        return self._request("POST", f"/api/arena/battles/{battle_id}/vote", json={"vote": vote})

    def arena_leaderboard(self) -> dict:
        return self._request("GET", "/api/arena/leaderboard")

    # -- data generation -------------------------------------------------------------------------------------

    def create_datagen(self, body: dict) -> dict:
        return self._request("POST", "/api/datagen", json=body)

    # -- evaluations -----------------------------------------------------------------------------------------

    def create_evaluation(self, body: dict) -> dict:
        return self._request("POST", "/api/evaluations", json=body)

    def list_evaluations(self, *, offset: int = 0, limit: int = 50) -> dict:
        return self._request("GET", "/api/evaluations", params={"offset": offset, "limit": limit})

    def get_evaluation(self, evaluation_id: int) -> dict:
        return self._request("GET", f"/api/evaluations/{evaluation_id}")

    def evaluation_rows(
        self, evaluation_id: int, *, set_name: str = "task", lost_by: str | None = None, limit: int = 100
    ) -> dict:
        params: dict[str, Any] = {"set": set_name, "limit": limit}
        if lost_by:
            params["lost_by"] = lost_by
        return self._request("GET", f"/api/evaluations/{evaluation_id}/rows", params=params)

    def export_evaluation(self, evaluation_id: int, fmt: str, dest_dir: str | Path) -> Path:
        """Download every graded row as CSV or JSON lines into dest_dir; returns the file's path."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        dest = Path(dest_dir) / f"evaluation-{evaluation_id}.{fmt}"
        with httpx.Client(base_url=self.base_url, timeout=self._timeout, transport=self._transport) as http:
            response = http.get(
                f"/api/evaluations/{evaluation_id}/export", params={"format": fmt}, headers=headers
            )
        if not response.is_success:
            raise _error_from(response)
        dest.write_bytes(response.content)
        return dest


def _attachment_name(response: httpx.Response, default: str) -> str:
    """The file name of a Content-Disposition header, reduced to a safe base name."""
    match = re.search(r'filename="?([^";]+)"?', response.headers.get("content-disposition", ""))
    name = Path(match.group(1)).name if match else ""
    name = re.sub(r"[^\w.\- ]", "_", name).strip(" .")
    return name or default


def _error_from(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        return ApiError(
            response.status_code, str(body["message"]), body.get("details"), str(body.get("code", ""))
        )
    if isinstance(body, dict) and "detail" in body:  # FastAPI's own answers (404 of an unknown route, ...)
        return ApiError(response.status_code, str(body["detail"]))
    text = response.text.strip()[:300] or response.reason_phrase
    return ApiError(response.status_code, f"The server answered {response.status_code}: {text}")
