"""Screens of the reduction lists: the list, enterprises and their policies, targets, Excel import/export.
The blueprint lives in views/blueprint.py, so that the screens' modules imported here need not import this one."""

from app.reduction.views import editor, enterprises, imports, lists, targets  # noqa: F401  routes register on bp
from app.reduction.views.blueprint import bp

__all__ = ["bp"]
