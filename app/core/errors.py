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


class ProblemsError(ValueError):
    """A data file refused whole: every problem found, each naming its file and key (inventories, rules)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
