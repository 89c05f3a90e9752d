"""The county picker of the case form: places grouped by city, the user's own region first, every county named
with its city so that two "市中区" (内江, 乐山, 重庆…) never look the same."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class PlaceLike(Protocol):
    id: int
    code: str
    name: str
    parent_id: int | None

    @property
    def level(self) -> object: ...


@dataclass(frozen=True)
class Option:
    code: str
    label: str


@dataclass(frozen=True)
class Group:
    label: str
    options: tuple[Option, ...]


def place_groups(places: Iterable[PlaceLike], home_code: str, city_suffix: str) -> list[Group]:
    """One group per city (or per province whose districts sit directly below it, as 重庆市). A city's own
    option comes first in its group with `city_suffix`; the group holding `home_code` comes first."""
    by_id = {p.id: p for p in places}
    groups: dict[int, list[Option]] = {}
    heads: dict[int, PlaceLike] = {}
    home_group: int | None = None
    for p in sorted(by_id.values(), key=lambda p: p.code):
        level = str(getattr(p.level, "value", p.level))
        if level == "province":
            continue
        if level == "city":
            head = p
            option = Option(p.code, f"{p.name}{city_suffix}")
        else:
            head = by_id.get(p.parent_id) if p.parent_id is not None else None
            if head is None:
                head = p
            option = Option(p.code, p.name if head is p else f"{head.name} {p.name}")
        heads[head.id] = head
        if level == "city":
            groups.setdefault(head.id, []).insert(0, option)
        else:
            groups.setdefault(head.id, []).append(option)
        if p.code == home_code:
            home_group = head.id
    order = sorted(groups, key=lambda i: (i != home_group, heads[i].code))
    return [Group(heads[i].name, tuple(groups[i])) for i in order]
