"""The jobs API lives with its feature (app/jobs/api.py); imported here so that its routes join bp."""

from app.jobs import api as _api  # noqa: F401
