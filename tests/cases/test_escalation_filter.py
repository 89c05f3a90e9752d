"""The case list filters on the escalation level (督办)."""

from __future__ import annotations

from app.cases.models import Case
from app.cases.vocabulary import Escalation
from app.extensions import db
from tests.cases.test_uploaded_files import case_id_of, post


def test_the_list_filters_on_the_escalation_level(world, login_as) -> None:  # type: ignore[no-untyped-def]
    c = login_as(world.inspector)
    ids = []
    for name in ("督办甲厂", "普通乙厂"):
        data = {"source_type": "industrial", "topic": "超标排放", "source_name": name, "place": "500153",
                "problem": "烟气超标", "origin": "field_inspection"}  # fmt: skip
        ids.append(case_id_of(post(c, "/cases/new", data)))
    s = db.session()
    s.get(Case, ids[0]).escalation = Escalation.exposure
    s.commit()
    html = c.get("/cases/?view=all&escalation=exposure").get_data(as_text=True)
    assert "督办甲厂" in html and "普通乙厂" not in html
    assert '<option value="exposure" selected>' in html
    html = c.get("/cases/?view=all").get_data(as_text=True)
    assert "督办甲厂" in html and "普通乙厂" in html
