"""Errors that services raise and views translate into messages; never a 500."""

from __future__ import annotations


class ServiceError(Exception):
    """Bad input or a forbidden state: the message is shown to the user and nothing is changed."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409
