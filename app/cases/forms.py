"""Forms of the case screens (the phone form posts plain fields checked by the service)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Length, Optional


class CsrfOnly(FlaskForm):
    """Transition, upload and escalation forms: the CSRF token and the version the user saw."""

    version = HiddenField()


class CaseForm(FlaskForm):
    source_name = StringField(_l("污染源名称"), validators=[Length(max=200)])
    source_address = StringField(_l("污染源地址"), validators=[Optional(), Length(max=300)])
    problem = TextAreaField(_l("问题描述"), validators=[Optional(), Length(max=4000)])
