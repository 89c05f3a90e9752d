"""Case objects for the route walk: a case (with an evidence file) and a transfer in each jurisdiction."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from app.cases.models import Case, CaseTransfer, Evidence
from app.cases.vocabulary import CaseState, EvidenceKind, Origin, SourceType
from app.db import utcnow

# Routes with these parameters are walked against one object of each kind per jurisdiction.
CASE_PARAMS = {
    frozenset({"case_id"}): lambda o: {"case_id": o["case"].id},
    frozenset({"evidence_id"}): lambda o: {"evidence_id": o["evidence"].id},
    frozenset({"transfer_id"}): lambda o: {"transfer_id": o["transfer"].id},
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def add_case_objects(app: Any, session: Any, make_bureau: Any, objects: dict[str, dict[str, Any]]) -> None:
    upload = Path(app.config["UPLOAD_DIR"]) / "evidence"
    upload.mkdir(parents=True, exist_ok=True)
    for code, o in objects.items():
        bureau, user = o["bureau"], o["user"]
        case = Case(
            number=f"XS-WALK-{code}-{secrets.token_hex(3)}", state=CaseState.discovered,
            source_type=SourceType.industrial, topic="超标排放", origin=Origin.field_inspection,
            inspected_at=utcnow(), source_name=f"walk {code}", problem="p", discovered_bureau_id=bureau.id,
            jurisdiction_id=bureau.jurisdiction_id, created_by_id=user.id,
        )  # fmt: skip
        session.add(case)
        session.flush()
        stored = secrets.token_hex(16) + ".png"
        (upload / stored).write_bytes(PNG)
        evidence = Evidence(
            case_id=case.id, jurisdiction_id=case.jurisdiction_id, kind=EvidenceKind.discovery, filename="w.png",
            stored_name=stored, content_type="image/png", size=len(PNG), sha256="0" * 64, uploaded_by_id=user.id,
        )  # fmt: skip
        receiver = make_bureau(code)
        transfer = CaseTransfer(
            number=f"YJ-WALK-{code}-{secrets.token_hex(3)}", from_bureau_id=bureau.id, to_bureau_id=receiver.id,
            created_by_id=user.id, jurisdiction_id=bureau.jurisdiction_id,
        )  # fmt: skip
        session.add_all([evidence, transfer])
        session.commit()
        o["case"], o["evidence"], o["transfer"] = case, evidence, transfer
