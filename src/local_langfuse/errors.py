"""Errors a route raises; the app turns them into Langfuse-style JSON responses."""

from __future__ import annotations


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


class UnauthorizedError(ApiError):
    status_code = 401
    error = "UnauthorizedError"


class NotFoundError(ApiError):
    status_code = 404
    error = "LangfuseNotFoundError"


class PayloadTooLargeError(ApiError):
    status_code = 413
    error = "PayloadTooLargeError"


class NotImplementedApiError(ApiError):
    status_code = 501
    error = "NotImplementedError"
