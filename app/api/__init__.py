"""The JSON API under /api/v1: session cookie or bearer token, scoped like the screens, errors as JSON.
The blueprint lives in app/api/blueprint.py, so that the route modules imported here need not import this one."""

from app.api import alerts, cases, crosscheck, experts, jobs, places, reduction, response  # noqa: F401  routes register on bp
from app.api.blueprint import bp

__all__ = ["bp"]
