"""Who may reach a view: every view declares it, and one hook enforces it (deny by default)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from app.auth.roles import Permission

F = TypeVar("F", bound=Callable[..., Any])
ACCESS_ATTR = "_lianfang_access"


def public(view: F) -> F:
    """Reachable without logging in (login page, health check)."""
    setattr(view, ACCESS_ATTR, ("public", None))
    return view


def login_required(view: F) -> F:
    """Any logged-in user; the data shown is still limited by scope."""
    setattr(view, ACCESS_ATTR, ("login", None))
    return view


def require(permission: Permission) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        setattr(view, ACCESS_ATTR, ("permission", permission))
        return view

    return decorate


def access_of(view: Callable[..., Any] | None) -> tuple[str, Permission | None] | None:
    return getattr(view, ACCESS_ATTR, None)
