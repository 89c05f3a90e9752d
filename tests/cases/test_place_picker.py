"""The county picker of the new-case form: grouped by city, the user's own region first, no bare "市中区"."""

from __future__ import annotations

import re

from app.auth.roles import Role
from app.cases.places import place_groups


def test_picker_groups_by_city_home_first_and_names_counties_with_their_city(make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    inspector = make_user("pick_insp", code="500153", roles=(Role.inspector,))
    html = login_as(inspector).get("/cases/new").get_data(as_text=True)
    groups = re.findall(r'<optgroup label="([^"]+)">', html)
    assert groups[0] == "重庆市"  # 荣昌's own region first
    assert "内江市" in groups
    labels = re.findall(r"<option value=\"\d+\"[^>]*>([^<]+)</option>", html)
    assert "市中区" not in labels
    assert "内江市 市中区" in labels
    # the county comes from the location or the enterprise unless chosen; the own region's option is offered first
    assert re.search(r'<option value="auto" selected>按位置或清单企业自动确定</option>', html)
    assert re.search(r'<option value="500153" >重庆市 荣昌区</option>', html)


class P:
    def __init__(self, id: int, code: str, name: str, level: str, parent_id: int | None) -> None:
        self.id, self.code, self.name, self.level, self.parent_id = id, code, name, level, parent_id


def test_place_groups_puts_the_city_first_in_its_group() -> None:
    places = [
        P(1, "510000", "四川省", "province", None),
        P(2, "511000", "内江市", "city", 1),
        P(3, "511002", "市中区", "county", 2),
        P(4, "511100", "乐山市", "city", 1),
        P(5, "511102", "市中区", "county", 4),
    ]
    groups = place_groups(places, "511102", "（市级）")
    assert [g.label for g in groups] == ["乐山市", "内江市"]
    assert [o.label for o in groups[0].options] == ["乐山市（市级）", "乐山市 市中区"]
