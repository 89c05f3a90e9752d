"""Plans as data: the three shipped plans carry their rules; a malformed file is refused with line and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from app.config import ROOT
from app.places import inventory
from app.places.inventory import InventoryError
from app.plans import services as plans
from app.plans.models import Plan
from app.plans.schema import Rules

INVENTORIES = ROOT / "inventories"


@pytest.fixture(scope="module")
def data() -> inventory.Places:
    return inventory.read(INVENTORIES)


def plan(data: inventory.Places, code: str):  # type: ignore[no-untyped-def]
    return next(p for p in data.plans if p.code == code)


def test_chuanyu_rules_follow_seed_000(data: inventory.Places) -> None:
    rules = plan(data, "chuanyu").rules
    alert = rules.alert
    assert alert is not None and alert.decides == "upper" and alert.merge_gap_hours == 36 and alert.lift_hours == 36
    red = alert.rule("red").when
    assert [(c.aqi_above, c.hours) for c in red[0]] == [(200, 72), (300, 24)]  # 且: both conditions
    assert [[(c.aqi_above, c.hours) for c in alt] for alt in alert.rule("yellow").when] == [[(200, 24)], [(150, 48)]]
    assert (alert.trigger.kind, alert.trigger.within_zone, alert.trigger.across_zones) == ("connected_group", 4, 6)
    assert alert.pollutant == "PM2.5" and alert.dust == "excluded" and alert.advance_notice_hours == 72
    chain = rules.approval.chains["red"]
    assert [(s.action, s.role, s.jurisdiction) for s in chain] == [
        ("review", "group_leader", None), ("approve", "vice_governor", "510000"), ("approve", "vice_mayor", "500000"),
    ]  # fmt: skip
    assert rules.approval.chains["orange"][0].delegate == "deputy_leader"


def test_kashgar_and_chaoyang_rules(data: inventory.Places) -> None:
    ks = plan(data, "kashgar").rules
    assert ks.alert.daily_aqi == "rolling_24h" and ks.alert.trigger.min_units == 3
    assert ks.alert.higher_authority == "新疆维吾尔自治区" and ks.alert.lift_without_approval
    assert (ks.alert.advance_notice_hours, ks.alert.advance_notice_min_hours) == (24, 12)
    assert [s.role for s in ks.approval.chains["red"]] == ["office_director", "deputy_commander", "commander"]
    assert ks.reporting.summary_within_hours == 24 and ks.reporting.daily_report == "previous day"
    assert ks.targets.percent == {"yellow": 10, "orange": 20, "red": 30}
    assert ks.targets.exempt_grades == ("A",) and ks.targets.exempt_categories == ("guarantee",)
    cy = plan(data, "chaoyang").rules
    assert cy.reporting.daily_report_due == "17:00" and cy.reporting.daily_report_photos
    assert cy.reporting.summary_due_next_day == "10:00" and cy.alert.ozone == "process_response"


def test_rules_round_trip_through_their_stored_form(data: inventory.Places) -> None:
    for row in data.plans:
        assert Rules.from_dict(row.rules.to_dict()) == row.rules


def copy(tmp_path: Path) -> Path:
    root = tmp_path / "inv"
    shutil.copytree(INVENTORIES, root)
    return root


def test_a_malformed_plan_is_refused_with_line_and_key(tmp_path: Path) -> None:
    root = copy(tmp_path)
    path = root / "plans" / "chuanyu.toml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("within_zone = 4", "within_zone = 0").replace('role = "vice_mayor"', 'role = "vice_mayr"')
    text = text.replace("merge_gap_hours = 36", "merge_gap = 36")
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    with pytest.raises(InventoryError) as e:
        inventory.read(root)
    problems = e.value.problems
    line = next(n for n, t in enumerate(lines, 1) if t.startswith("within_zone"))
    assert (
        f"plans/chuanyu.toml line {line} alert.trigger.within_zone: must be a whole number from 1 to 1000, not 0"
        in problems
    )
    line = next(n for n, t in enumerate(lines, 1) if "vice_mayr" in t)
    assert f"plans/chuanyu.toml line {line} approval.red[2].role: 'vice_mayr' is not a known role" in problems
    line = next(n for n, t in enumerate(lines, 1) if t.startswith("merge_gap"))
    assert any(p.startswith(f"plans/chuanyu.toml line {line} alert.merge_gap: unknown key") for p in problems)


def test_a_level_without_its_condition_is_refused(tmp_path: Path) -> None:
    root = copy(tmp_path)
    path = root / "plans" / "kashgar.toml"
    text = path.read_text(encoding="utf-8").replace(
        "[alert.levels.red]\nwhen = [[{ aqi_above = 200, hours = 72 }]]\n", ""
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InventoryError) as e:
        inventory.read(root)
    assert any("plans/kashgar.toml line" in p and "alert.levels.red: is required" in p for p in e.value.problems)


def test_a_new_plan_is_a_new_file(session, tmp_path: Path, runner) -> None:  # type: ignore[no-untyped-def]
    root = copy(tmp_path)
    text = (root / "plans" / "kashgar.toml").read_text(encoding="utf-8")
    (root / "plans" / "kashgar_test.toml").write_text(
        text.replace('code = "kashgar"', 'code = "kashgar_test"', 1).replace("min_units = 3", "min_units = 4"),
        encoding="utf-8",
    )
    result = runner.invoke(args=["inventories", "load", "--root", str(root)])
    assert result.exit_code == 0, result.output
    new = plans.by_code(session, "kashgar_test")
    assert new is not None and plans.rules_of(new).alert.trigger.min_units == 4


def test_loaded_plans_are_queried_in_app_plans(session, runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["inventories", "load"])
    assert result.exit_code == 0, result.output
    chuanyu = plans.by_code(session, "chuanyu")
    assert plans.rules_of(chuanyu).alert.trigger.within_zone == 4
    assert [p.code for p in plans.covering(session, "/510000/511000/511011/")] == ["chuanyu"]
    assert plans.covering(session, "/650000/653100/653101/")[0].code == "kashgar"
    geo = plans.geography(session, chuanyu)
    assert geo.zones["chengdu_plain"] == ("510100", "510600", "510700", "511100", "511400", "511800")
    assert ("510100", "510600") in geo.edges
    again = runner.invoke(args=["inventories", "load"])
    assert "nothing changed" in again.output
    assert session.scalar(select(Plan.rules).where(Plan.code == "kashgar"))["targets"]["percent"]["red"] == 30
