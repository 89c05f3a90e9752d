"""The reduction lists' blueprint; the screens' modules add their routes to it."""

from flask import Blueprint

bp = Blueprint("reduction", __name__, url_prefix="/lists")
