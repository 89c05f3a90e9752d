"""The one rule engine (domain/bulk.py) asked the way the tests of the policy and the rules ask it: one
enterprise from domain objects, its problems filtered by kind."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from app.reduction.domain import bulk
from app.reduction.domain import rules as dr
from app.reduction.domain.policy import EnterpriseFacts, Measure, PlantPolicy, Problem, ProcessUnit
from app.reduction.domain.vocabulary import AlertLevel, Category, Pollutant

FACT_CODES = {"negative_value", "operating_days", "duplicate_unit", "share_range", "base_value", "shares_exceed"}
CLASSIFICATION = {"key_without_grade", "grade_not_key", "not_micro"}
POLICY_CODES = {"unknown_unit", "verification_unsuitable"}
PLAIN = EnterpriseFacts("某企业", Category.other)


def check(facts: EnterpriseFacts | None, units: Sequence[ProcessUnit], policy: PlantPolicy,
          library: dr.RuleLibrary = bulk.NO_RULES, plans: Sequence[str] = ()) -> bulk.One:  # fmt: skip
    return bulk.check(facts or PLAIN, units, policy, library, plans)


def problems(codes: set[str], facts: EnterpriseFacts | None, units: Sequence[ProcessUnit] = (),
             policy: PlantPolicy | None = None, library: dr.RuleLibrary = bulk.NO_RULES,
             plans: Sequence[str] = ()) -> list[Problem]:  # fmt: skip
    return [p for p in check(facts, units, policy or PlantPolicy(), library, plans).problems if p.code in codes]


def escalation_problems(policy: PlantPolicy, facts: EnterpriseFacts | None = None,
                        units: Sequence[ProcessUnit] = ()) -> list[Problem]:  # fmt: skip
    return problems({"escalation_weaker"}, facts, units, policy)


def policy_problems(units: Sequence[ProcessUnit], policy: PlantPolicy) -> list[Problem]:
    return problems(POLICY_CODES, None, units, policy)


def classification_problems(facts: EnterpriseFacts) -> list[Problem]:
    return problems(CLASSIFICATION, facts)


def fact_problems(facts: EnterpriseFacts, units: Sequence[ProcessUnit]) -> list[Problem]:
    return problems(FACT_CODES, facts, units)


def rule_problems(facts: EnterpriseFacts, units: Sequence[ProcessUnit], policy: PlantPolicy,
                  library: dr.RuleLibrary, plans: Sequence[str] = ()) -> list[Problem]:  # fmt: skip
    """The flags below the library's rules, for an enterprise in the zones of `plans` (plan codes)."""
    return problems({"below_rule"}, facts, units, policy, library, plans)


def expected_reduction(facts: EnterpriseFacts, units: Sequence[ProcessUnit], measures: Iterable[Measure],
                       level: AlertLevel = AlertLevel.yellow) -> dict[Pollutant, float]:  # fmt: skip
    return check(facts, units, PlantPolicy({level: tuple(measures)})).reductions[level]


def production_cut(facts: EnterpriseFacts, units: Sequence[ProcessUnit], measures: Iterable[Measure],
                   level: AlertLevel = AlertLevel.yellow) -> float:  # fmt: skip
    return check(facts, units, PlantPolicy({level: tuple(measures)})).production_cuts[level]


def full_stop_reduction(facts: EnterpriseFacts) -> dict[Pollutant, float]:
    return check(facts, (), PlantPolicy()).full_stop
