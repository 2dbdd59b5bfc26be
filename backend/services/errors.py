"""Errors a user can cause, raised by services and turned into 4xx answers by the API.

ServiceError            -> 400
├── Unauthorized        -> 401  no or bad token
├── Forbidden           -> 403  role may not do this
├── NotFound            -> 404
├── Conflict            -> 409  state does not allow it (e.g. cancel a finished job)
├── TooLarge            -> 413  an upload passed a size limit; `details` names the limit and its setting
├── Invalid             -> 422  input refused; `details` says where (row, field, value)
└── TooManyRequests     -> 429  slow down; `retry_after` seconds (sent as the Retry-After header)
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class TooLarge(ServiceError):
    status, code = 413, "too_large"


class Invalid(ServiceError):
    status, code = 422, "invalid"


class TooManyRequests(ServiceError):
    status, code = 429, "too_many_requests"

    def __init__(
        self, message: str, *, retry_after: int, details: Any = None, code: str | None = None
    ) -> None:
        super().__init__(message, details=details, code=code)
        self.retry_after = max(1, int(retry_after))
