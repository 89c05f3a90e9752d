"""What every `flask …` command shares: one transaction with the operator's unrestricted scope."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from app.core.errors import ServiceError
from app.core.scoping import Scope, set_scope
from app.extensions import db


def transactional(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command in one transaction with the operator's unrestricted scope: committed at the end, rolled
    back whole on any error (a refusal is printed as the command's error)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        s = db.session()
        set_scope(s, Scope.everything())
        try:
            result = fn(s, *args, **kwargs)
            s.commit()
            return result
        except ServiceError as e:
            s.rollback()
            raise click.ClickException(e.message) from e
        except Exception:
            s.rollback()
            raise

    return wrapper
