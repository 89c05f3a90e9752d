"""What the case screens share: the blueprint, a refused form, and reading a case or transfer or 404."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, abort
from sqlalchemy.orm import Session

from app.cases.models import Case, CaseTransfer
from app.extensions import db

bp = Blueprint("cases", __name__, url_prefix="/cases")


@dataclass(frozen=True)
class Refusal:
    """A refused form of the case page: which one (an action's value, "upload", "transfer", "escalate"), why,
    the field it names, and what was typed."""

    form: str = ""
    message: str = ""
    field: str | None = None
    values: Mapping[str, str] = dataclasses.field(default_factory=dict)
    status: int = 400
    confirm: str = ""  # not refused: asking to confirm (the escalation's next step)

    def __bool__(self) -> bool:
        return bool(self.form)

    def confirming(self, form: str) -> str:
        return self.confirm if self.form == form else ""

    def of(self, form: str) -> str:
        return self.message if self.form == form else ""

    def value(self, form: str, key: str, default: str = "") -> str:
        return str(self.values.get(key, default)) if self.form == form else default


def case_or_404(case_id: int) -> Case:
    case = db.session.get(Case, case_id)
    if case is None:
        abort(404)
    return case


def transfer_or_404(s: Session, transfer_id: int) -> CaseTransfer:
    t = s.get(CaseTransfer, transfer_id)
    if t is None:
        abort(404)
    return t
