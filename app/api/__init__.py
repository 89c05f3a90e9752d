"""The JSON API under /api/v1: session cookie or bearer token, scoped like the screens, errors as JSON.
The blueprint lives in app/api/blueprint.py, so that the route modules imported here need not import this one."""

from app.api import (  # noqa: F401  routes register on bp
    alerts,
    cases,
    crosscheck,
    experts,
    jobs,
    places,
    power,
    reduction,
    response,
)
from app.api.blueprint import bp

__all__ = ["bp"]
