"""Screens of the reduction lists: the list, enterprises and their policies, targets, Excel import/export."""

from flask import Blueprint

bp = Blueprint("reduction", __name__, url_prefix="/lists")

# Each module adds its routes to bp.
from app.reduction.views import enterprises, imports, lists, targets  # noqa: E402,F401
