"""Time limits of the case states (seed 000 (六)4: each state has a limit set by the plan or the bureau).

Pure Python: which limit applies to a state, and where it comes from. A bureau's own setting wins over the
plan of the case's area, which wins over the default, state by state. The database side (which plan, which
bureau) is in services/workflow.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.cases.vocabulary import CaseState

# Hours a case may stay in a state before it is overdue. A rectifying case is due at the end of the
# rectification deadline its order set (once reported, the verifier has the `verified` limit).
DEFAULT_LIMITS: dict[CaseState, int] = {
    CaseState.discovered: 24,
    CaseState.returned: 24,
    CaseState.transferred: 24,
    CaseState.received: 24,
    CaseState.handling: 72,
    CaseState.verified: 72,
}
LIMITED_STATES: tuple[CaseState, ...] = tuple(DEFAULT_LIMITS)
MAX_HOURS = 24 * 365

DEFAULT, PLAN, BUREAU = "default", "plan", "bureau"


@dataclass(frozen=True)
class Limit:
    hours: int
    source: str  # DEFAULT, PLAN or BUREAU
    name: str = ""  # the plan's or the bureau's name


def check(table: object) -> tuple[dict[str, int], list[str]]:
    """A `case_limits` table ({state: hours}) and what is wrong with it, each problem naming its key."""
    if not isinstance(table, Mapping):
        return {}, ["case_limits must be a table of state = hours"]
    limits: dict[str, int] = {}
    problems: list[str] = []
    names = ", ".join(s.value for s in LIMITED_STATES)
    for key, hours in table.items():
        if key not in DEFAULT_LIMITS:
            why = (
                "is due at the rectification deadline of its order"
                if key == CaseState.rectifying
                else "is not a state with a time limit"
            )
            problems.append(f"case_limits.{key} {why} (states: {names})")
        elif isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_HOURS:
            problems.append(f"case_limits.{key} must be whole hours from 1 to {MAX_HOURS}, not {hours!r}")
        else:
            limits[str(key)] = hours
    return limits, problems


def _valid(table: Mapping[str, Any] | None) -> dict[CaseState, int]:
    # Stored settings are checked when they are written; one that no longer fits is skipped, not fatal.
    limits, _problems = check(table or {})
    return {CaseState(k): v for k, v in limits.items()}


def applicable(
    plans: Iterable[tuple[str, Mapping[str, Any] | None]], bureau: tuple[str, Mapping[str, Any] | None] | None
) -> dict[CaseState, Limit]:
    """The limit of every limited state: the bureau's own, else the plans' (the shortest when the area is in
    several plans, as with their list deadlines), else the default."""
    result = {state: Limit(hours, DEFAULT) for state, hours in DEFAULT_LIMITS.items()}
    planned: dict[CaseState, Limit] = {}
    for name, table in plans:
        for state, hours in _valid(table).items():
            if state not in planned or hours < planned[state].hours:
                planned[state] = Limit(hours, PLAN, name)
    result.update(planned)
    if bureau is not None:
        name, table = bureau
        result.update({state: Limit(hours, BUREAU, name) for state, hours in _valid(table).items()})
    return result
