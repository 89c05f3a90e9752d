"""Places: the inventory files, their loader and the adjacency graph, as geography fixes it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.auth.roles import Role
from app.places import inventory
from app.places.graph import components
from app.places.inventory import InventoryError
from app.places.models import Adjacency, Jurisdiction, JurisdictionLevel, ZoneMember
from app.places.queries import edges_by_code
from app.places.services import load
from app.plans.models import Plan

ROOT = Path(__file__).resolve().parent.parent / "inventories"


@pytest.fixture(scope="module")
def data() -> inventory.Places:
    return inventory.read(ROOT)


def code_of(data: inventory.Places, short: str) -> str:
    matches = [p.code for p in data.places.values() if p.short_name == short or p.name == short]
    assert len(matches) == 1, f"{short}: {matches}"
    return matches[0]


def adjacent(data: inventory.Places, a: str, b: str) -> bool:
    x, y = code_of(data, a), code_of(data, b)
    return (min(x, y), max(x, y)) in data.edges


def test_counts_match_the_seeds(data: inventory.Places) -> None:
    places = data.places.values()
    sichuan_cities = [p for p in places if p.parent_code == "510000"]
    assert len(sichuan_cities) == 15
    sichuan_counties = [p for p in places if p.parent_code in {c.code for c in sichuan_cities}]
    assert len(sichuan_counties) == 118  # seed 001: 15 cities with 118 counties
    chongqing = [p for p in places if p.parent_code == "500000"]
    assert len(chongqing) == 41  # 26 districts + 12 counties + 两江新区, 重庆高新区, 万盛经开区
    assert {p.short_name for p in chongqing if not p.official} == {"两江新区", "重庆高新区", "万盛经开区"}
    assert len([p for p in places if p.parent_code == "653100"]) == 12
    assert len([p for p in places if p.parent_code == "211300"]) == 7


def test_linkage_zones_have_the_40_member_units(data: inventory.Places) -> None:
    chuanyu = next(p for p in data.plans if p.code == "chuanyu")
    sizes = {z.name: len(z.members) for z in chuanyu.zones}
    assert sizes == {"盆地东北部": 4, "盆地中部": 17, "盆地南部": 13, "成都平原": 6}
    members = [m for z in chuanyu.zones for m in z.members]
    assert len(members) == len(set(members)) == 40


def test_adjacency_is_symmetric_without_self_loops(data: inventory.Places) -> None:
    for a, b in data.edges:
        assert a != b
        assert a < b, "each pair is stored once, ordered"
    graph: dict[str, set[str]] = {}
    for a, b in data.edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set()).add(a)
    for a, ns in graph.items():
        for b in ns:
            assert a in graph[b]


def test_each_zone_and_kashgar_is_connected(data: inventory.Places) -> None:
    for plan in data.plans:
        if plan.code == "chaoyang":
            continue
        for zone in plan.zones:
            groups = components(zone.members, data.edges)
            assert len(groups) == 1, f"{plan.code}/{zone.name} splits into {groups}"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("成都", "德阳", True),
        ("成都", "眉山", True),
        ("成都", "雅安", True),
        ("成都", "资阳", True),
        ("成都", "达州", False),
        ("荣昌", "内江", True),  # 隆昌
        ("荣昌", "泸州", True),  # 泸县
        ("江津", "泸州", True),  # 合江
        ("潼南", "遂宁", True),
        ("大足", "资阳", True),  # 安岳
        ("荣昌", "资阳", True),  # 安岳 (missing from the hand-typed file)
        ("大足", "璧山", False),  # 铜梁 and 永川 lie between
        ("合川", "广安", True),
        ("达州", "开州", True),
        ("渝中", "成都", False),
        ("乐山", "达州", False),
        ("万州", "南充", False),
        ("喀什市", "疏附", True),
        ("喀什市", "塔什库尔干", False),
    ],
)
def test_pairs_geography_fixes(data: inventory.Places, a: str, b: str, expected: bool) -> None:
    assert adjacent(data, a, b) is expected


def test_bad_files_are_refused_with_file_row_and_field(tmp_path: Path) -> None:
    root = tmp_path / "inv"
    shutil.copytree(ROOT, root)
    csv_path = root / "places" / "jurisdictions.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",county,", ",hamlet,", 1)
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    adj = root / "places" / "adjacency.yaml"
    adj.write_text(adj.read_text(encoding="utf-8") + "  - [510100, 999999]\n  - [510100, 510100]\n", encoding="utf-8")
    with pytest.raises(InventoryError) as exc:
        inventory.read(root)
    text = "\n".join(exc.value.problems)
    assert "places/jurisdictions.csv row 4: level 'hamlet'" in text
    assert "unknown code 999999" in text
    assert "510100 cannot border itself" in text


def test_load_is_idempotent_and_complete(session) -> None:  # type: ignore[no-untyped-def]
    # The session fixture's database already holds the inventories: loading again changes nothing.
    report = load(session, ROOT)
    assert report.changes == 0
    assert session.scalar(select(func.count()).select_from(Jurisdiction)) == 199
    assert session.scalar(select(func.count()).select_from(Adjacency)) == len(inventory.read(ROOT).edges)
    assert session.scalar(select(func.count()).select_from(ZoneMember)) == 40 + 12 + 7
    assert {p.code for p in session.scalars(select(Plan))} == {"chuanyu", "kashgar", "chaoyang"}
    cq = session.scalars(select(Jurisdiction).where(Jurisdiction.code == "500153")).one()
    assert cq.level is JurisdictionLevel.county and cq.path == "/500000/500153/"
    assert ("500153", "511000") in edges_by_code(session)


def test_a_bad_file_loads_nothing(session, tmp_path: Path, runner) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "inv"
    shutil.copytree(ROOT, root)
    (root / "plans" / "chuanyu.toml").write_text('code = "chuanyu"\n', encoding="utf-8")
    result = runner.invoke(args=["inventories", "load", "--root", str(root)])
    assert result.exit_code != 0
    assert "plans/chuanyu.toml: 'name' is required" in result.output
    assert "nothing was loaded" in result.output


def test_a_bad_rule_or_schedule_file_stops_the_load(session, tmp_path: Path, runner) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "inv"
    shutil.copytree(ROOT, root)
    schedule = root / "staggered" / "chuanyu_2025.yaml"
    schedule.write_text(
        schedule.read_text(encoding="utf-8").replace("C: {days: 45, ultra_low: 30}", "C: {days: 10}"),
        encoding="utf-8",
    )
    rule = root / "measure_rules" / "brick.yaml"
    rule.write_text(rule.read_text(encoding="utf-8").replace("kind: limit, percent: 30", "kind: limit"), "utf-8")
    result = runner.invoke(args=["inventories", "load", "--root", str(root)])
    assert result.exit_code != 0 and "nothing was loaded" in result.output
    assert "measure_rules/brick.yaml rule brick.B orange measure 1: limit needs a percent" in result.output
    assert "staggered/chuanyu_2025.yaml industries.brick.days.C.days: 10 is fewer than grade B's 30" in result.output


def test_cli_load_twice_reports_nothing_changed(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["inventories", "load"])
    assert result.exit_code == 0, result.output
    assert "up to date, nothing changed" in result.output


def test_places_api_lists_codes_parents_zones_neighbours(client, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    login_as(make_user("api_places", code="500153", roles=(Role.district_staff,)))
    body = client.get("/api/v1/places?level=city").get_json()
    assert body["count"] == 15 + 1 + 1  # Sichuan's cities, 喀什地区, 朝阳市
    neijiang = next(p for p in body["places"] if p["code"] == "511000")
    assert neijiang["parent"] == "510000"
    assert neijiang["zones"] == [{"plan": "chuanyu", "zone": "south", "zone_name": "盆地南部"}]
    assert "500153" in neijiang["neighbours"]
    all_places = client.get("/api/v1/places").get_json()
    assert all_places["count"] == 199
    under = client.get("/api/v1/places?under=653100").get_json()
    assert under["count"] == 13
    bad = client.get("/api/v1/places?level=village")
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "level"


def test_place_page_shows_neighbours(client, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    login_as(make_user("page_places", code="511000"))
    html = client.get("/places/500153").get_data(as_text=True)
    assert "荣昌区" in html and "内江市" in html and "盆地南部" in html
    assert client.get("/places/999999").status_code == 404
