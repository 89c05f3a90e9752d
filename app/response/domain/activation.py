"""Which places an activation covers and at which level, what kind of task an enterprise gets, and how a level
change re-derives a task's required measures while keeping the checks already done. Plain data, no database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

LEVEL_ORDER = {"yellow": 1, "orange": 2, "red": 3}
ONSITE, PATROL = "onsite_supervision", "patrol"


@dataclass(frozen=True)
class Unit:
    """An activated unit (a member unit, or a county that starts its own higher level) and its level;
    `level` None: the unit's response is lifted."""

    jurisdiction_id: int
    path: str  # the materialised path of codes, "/510000/510100/"
    level: str | None


@dataclass(frozen=True)
class Area:
    """A place covered by an activation: the unit it hangs from and the level that applies there."""

    jurisdiction_id: int
    unit_id: int
    level: str


def rank(level: str | None) -> int:
    return LEVEL_ORDER.get(level or "", 0)


def covered(units: Iterable[Unit], places: Mapping[int, str]) -> dict[int, Area]:
    """Every place (id → path) at or below an activated unit, with the highest level of the units above it
    (a unit's own higher level wins over its zone's); among units of the same level the nearest one."""
    active = [u for u in units if u.level is not None]
    out: dict[int, Area] = {}
    for jid, path in places.items():
        best: Unit | None = None
        for u in active:
            if not path.startswith(u.path):
                continue
            if best is None or (rank(u.level), len(u.path)) > (rank(best.level), len(best.path)):
                best = u
        if best is not None:
            assert best.level is not None
            out[jid] = Area(jid, best.jurisdiction_id, best.level)
    return out


def supervision_for(category: str) -> str:
    """Seed 004: key enterprises get on-site supervision (驻场督导), every other one patrols (执法巡查)."""
    return ONSITE if category == "key" else PATROL


Signature = tuple[str, int | None, float | None, str | None, str | None]  # kind, unit, percent, stage, basis


@dataclass(frozen=True)
class Held:
    """A measure a task holds now."""

    id: int
    signature: Signature
    checked: bool


@dataclass(frozen=True)
class Wanted:
    """A measure the policy requires at the new level (from the version's Measure row)."""

    measure_id: int
    signature: Signature


@dataclass
class Relevel:
    keep: list[tuple[int, Wanted]] = field(default_factory=list)  # held row → now required as this measure
    add: list[Wanted] = field(default_factory=list)  # new rows, unchecked
    retire: list[int] = field(default_factory=list)  # checked rows no longer required: kept, shown as such
    drop: list[int] = field(default_factory=list)  # unchecked rows no longer required: removed


def relevel(held: Sequence[Held], wanted: Sequence[Wanted]) -> Relevel:
    """Re-derive a task's measures at a new level: a held measure that the new level asks for too (same kind,
    unit, percent, stage, basis) stays with its check; the others come new, and what the new level no longer
    asks for is dropped unless it was checked (then it is kept, marked not required)."""
    out = Relevel()
    pool: dict[Signature, list[Held]] = {}
    for h in sorted(held, key=lambda h: (not h.checked, h.id)):  # checked rows are matched first
        pool.setdefault(h.signature, []).append(h)
    for w in wanted:
        bucket = pool.get(w.signature)
        if bucket:
            out.keep.append((bucket.pop(0).id, w))
        else:
            out.add.append(w)
    for bucket in pool.values():
        for h in bucket:
            (out.retire if h.checked else out.drop).append(h.id)
    out.retire.sort()
    out.drop.sort()
    return out


def progress(statuses: Iterable[str]) -> Counter[str]:
    """How a task's required measures stand: pending / carried_out / not_carried_out counts."""
    return Counter(statuses)
