"""Errors a route raises; the app turns them into Langfuse-style JSON responses."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error with an HTTP status and a message for the client."""

    status_code = 400
    error = "Error"

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class BadRequestError(ApiError):
    status_code = 400
    error = "InvalidRequestError"


class ValidationApiError(ApiError):
    """Langfuse's answer to a body or query its zod schemas reject.

    The response is ``{"message": "Invalid request data", "error": [issue, ...]}``; each issue
    is zod-like (``code``, ``path``, ``message``), with Langfuse's message where it has its own.
    """

    status_code = 400
    error = "InvalidRequestError"

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        super().__init__("Invalid request data")
        self.issues = issues

    def __str__(self) -> str:
        return "; ".join(str(issue["message"]) for issue in self.issues)


IssuePath = str | int | list[str | int]


def issue(path: IssuePath, message: str, code: str = "custom") -> dict[str, Any]:
    """One zod-like issue; ``path`` is a field name or a list of keys and indexes."""
    return {"code": code, "path": path if isinstance(path, list) else [path], "message": message}


def invalid(path: IssuePath, message: str, code: str = "custom") -> ValidationApiError:
    """A :class:`ValidationApiError` with one issue."""
    return ValidationApiError([issue(path, message, code)])


class UnauthorizedError(ApiError):
    status_code = 401
    error = "UnauthorizedError"


class ForbiddenError(ApiError):
    status_code = 403
    error = "ForbiddenError"


class NotFoundError(ApiError):
    status_code = 404
    error = "LangfuseNotFoundError"


class PayloadTooLargeError(ApiError):
    status_code = 413
    error = "PayloadTooLargeError"


class NotImplementedApiError(ApiError):
    status_code = 501
    error = "NotImplementedError"
