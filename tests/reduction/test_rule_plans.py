"""The Kashgar plan's China-II machinery ban (seed 002 §4.3.3.3) on stored enterprises: every industrial plant in
the plan's zones keeps it, whatever its class (an A-grade plant too); a plant in 内江 (川渝's plan) is not asked
for it. The check, the rules the enterprise page and its API list, and the stored assessment the list page
reads say the same."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.auth.models import User
from app.auth.roles import Role
from app.cli import _file_read_problems
from app.places.models import Jurisdiction
from app.reduction.demo import add_enterprise
from app.reduction.models import EnterpriseAssessment
from app.reduction.services import lists as list_service
from app.reduction.services import policies, rule_library

EVERY_PLANT = "measure_rules/general.yaml#offroad.every_plant"


def a_grade_plant(session: Any, make_bureau: Any, make_user: Any, code: str, n: int) -> Any:
    bureau = make_bureau(code, name=f"测试局{code}")
    user = session.get(User, make_user(f"plans_{code}", bureau=bureau, roles=(Role.city_staff,)).id)
    lst = list_service.open_list(session, bureau, 2026, user)
    county = session.scalar(select(Jurisdiction.id).where(Jurisdiction.code == {"653100": "653101"}.get(code, code)))
    return add_enterprise(
        session, lst, uscc=f"91653101MA7{n:07d}", name=f"测试水泥{n}有限公司", category="key", grade="A",
        industry="cement_clinker", jurisdiction_id=county, so2=10.0, nox=20.0, machinery={"china_2": 3},
    )  # fmt: skip


def test_machinery_ban_in_kashgar_not_in_neijiang(session: Any, make_bureau: Any, make_user: Any) -> None:
    kashgar = a_grade_plant(session, make_bureau, make_user, "653100", 1)
    neijiang = a_grade_plant(session, make_bureau, make_user, "511000", 2)
    assert rule_library.plans_of(kashgar) == ("kashgar",) and rule_library.plans_of(neijiang) == ("chuanyu",)

    flags = [p for p in policies.assess(kashgar).problems if p.code == "below_rule"]
    assert [(p.level.value, p.rule) for p in flags] == [("orange", EVERY_PLANT), ("red", EVERY_PLANT)]
    assert flags[0].message.startswith(
        "依据《喀什地区重污染天气应急预案》第4.3.3.3条和第4.3.4.3条，橙色预警期间应停用国Ⅱ"
    )
    assert [q.rule.ref for q in rule_library.match_of(kashgar).at(flags[0].level)] == [EVERY_PLANT]
    assert not [p for p in policies.assess(neijiang).problems if p.code == "below_rule"]
    assert rule_library.match_of(neijiang).at(flags[0].level) == ()

    stored = {a.enterprise_id: a for a in session.scalars(select(EnterpriseAssessment))}
    assert stored[kashgar.id].codes == ["below_rule"] and stored[kashgar.id].problems == 2
    assert stored[neijiang.id].problems == 0


def test_inventory_load_refuses_a_rule_naming_an_unknown_plan(tmp_path: Any) -> None:
    root = Path(__file__).resolve().parents[2] / "inventories"
    shutil.copytree(root / "measure_rules", tmp_path / "measure_rules")
    shutil.copytree(root / "plans", tmp_path / "plans")
    assert _file_read_problems(tmp_path) == []
    general = tmp_path / "measure_rules" / "general.yaml"
    general.write_text(general.read_text(encoding="utf-8").replace("plans: [kashgar]", "plans: [kashi]"), "utf-8")
    assert _file_read_problems(tmp_path) == ["measure_rules: a rule names the plan 'kashi', which plans/ does not have"]
