"""The production entry point (wsgi.py) with one page more for the web benchmarks: the yardstick page.

`/bench/places/<id>` is an authenticated page that shows one row by primary key in the full layout
(base.html: navigation, the user's name, the language switch): the whole request cycle (session, reader and
scope, CSRF token, limiter, template, commit) around the cheapest query a page can make. Issue 11's web
targets are ratios of requests per second under the same clients: this page against the machine's floor
(bench/_floor_app.py), the list page, the inbox and the overdue list against this page."""

from __future__ import annotations

import gc

from flask import Blueprint, abort, render_template

from app.auth.roles import Permission
from app.core.access import require
from app.extensions import db
from app.places.models import Jurisdiction
from wsgi import app

PAGE = """{% extends "base.html" %}
{% block title %}{{ place.name }}{% endblock %}
{% block content %}
<h1>{{ place.name }} <span class="muted">{{ place.code }}</span></h1>
<section class="card" data-testid="one-row"><dl class="kv">
  <dt>{{ _('层级') }}</dt><dd>{{ level_labels[place.level.value] }}</dd>
  <dt>{{ _('代码') }}</dt><dd>{{ place.code }}</dd>
</dl></section>
{% endblock %}"""

bp = Blueprint("bench_one_row", __name__)
TEMPLATE = app.jinja_env.from_string(PAGE)  # compiled once, as the loader keeps a template file


@bp.get("/bench/places/<int:place_id>")
@require(Permission.view_places)
def one_row(place_id: int):  # type: ignore[no-untyped-def]
    place = db.session.get(Jurisdiction, place_id)
    if place is None:
        abort(404)
    return render_template(TEMPLATE, place=place)


app.register_blueprint(bp)
gc.freeze()
