"""Every flag text every shipped rule file can raise reads as an official writes it — the rule's clause as a
clause, never a file path, a "seed" or "。；", no measure named twice — and has an English rendering."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from app.reduction.domain import rules
from app.reduction.domain.policy import EnterpriseFacts, PlantPolicy, Problem, ProcessUnit
from app.reduction.domain.vocabulary import LEVELS, Category, Grade, MachineryStage, Pollutant
from tests.reduction.engine import check
from tests.test_i18n import TRANSLATIONS, compile_catalog

ROOT = Path(__file__).resolve().parents[2] / "inventories" / "measure_rules"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef“”]")
NOT_OFFICIAL = ("measure_rules", ".yaml", ".toml", "#", "seed", "。；", "；。", "。。", "，，")


@pytest.fixture(scope="module")
def library() -> rules.RuleLibrary:
    return rules.load(ROOT)


@pytest.fixture(scope="module")
def english() -> Iterator[Flask]:
    compile_catalog()
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(TRANSLATIONS), locale_selector=lambda: "en")
    yield app


def sorts(library: rules.RuleLibrary) -> list[tuple[str, Grade | None, Category]]:
    """Every (industry, grade, category) a base rule of some file covers."""
    found = []
    for r in library.rules:
        if r.addition:
            continue
        industry = "steel" if r.industry == rules.GENERAL else r.industry
        for category in r.categories:
            for grade in (r.grades if category is Category.key else ()) or (None,):
                found.append((industry, grade, category))
    return found


def flags(library: rules.RuleLibrary, industry: str, grade: Grade | None, category: Category) -> list[Problem]:
    """An enterprise with old machinery, many trucks and no measures at all: every minimum it has is missed."""
    facts = EnterpriseFacts(
        "某企业", category, grade, industry, {Pollutant.so2: 0.01, Pollutant.nox: 0.02},
        truck_visits_per_day=50, machinery={MachineryStage.pre_china_1: 2},
    )  # fmt: skip
    share = {p: 0.5 for p in Pollutant}
    lines = tuple(ProcessUnit(f"L{i}", f"{i}号生产线", share, 1000, 1000, 1000) for i in (1, 2))
    # in the Kashgar plan's zones, where the plan's additions (trucks, machinery) apply too
    return [p for p in check(facts, lines, PlantPolicy(), library, ("kashgar",)).problems if p.code == "below_rule"]


def test_every_rule_of_every_file_raises_official_flags(library: rules.RuleLibrary) -> None:
    raised: set[str] = set()
    for industry, grade, category in sorts(library):
        match = library.match(industry, grade, category, ("kashgar",))
        found = flags(library, industry, grade, category)
        # every minimum of the match is missed by an empty policy, and each is flagged once
        assert len(found) == sum(len(match.at(lv)) for lv in LEVELS), (industry, grade, category)
        for level in LEVELS:
            texts = [q.requirement.describe() for q in match.at(level)]
            kinds = [q.requirement.kind for q in match.at(level)]
            # the base rule's truck ban covers the plan's: one measure of a kind at a level
            assert len(texts) == len(set(texts)) and len(kinds) == len(set(kinds)), (industry, grade, level, texts)
        for p in found:
            raised.add(p.rule or "")
            rule = next(r for r in library.rules if r.ref == p.rule)
            assert p.message.startswith(f"依据{rule.clause}，{p.level.label}期间应"), p.message
            assert p.message.endswith("。") and p.message.count("。") == 1, p.message
            assert not any(bad in p.message for bad in NOT_OFFICIAL), p.message
            # one measure per flag: no measure name repeated inside it
            measure = p.message.removeprefix(f"依据{rule.clause}，{p.level.label}期间应").split("，本企业")[0]
            assert p.message.count(measure) == 1, p.message
    asked = {r.ref for r in library.rules if not r.voluntary and any(r.at(lv) for lv in LEVELS)}
    assert asked <= raised, sorted(asked - raised)


def test_no_rule_level_lists_a_measure_twice(library: rules.RuleLibrary) -> None:
    for r in library.rules:
        for level in LEVELS:
            kinds = [(q.kind, q.max_stage) for q in r.at(level)]
            assert len(kinds) == len(set(kinds)), (r.ref, level)


def test_every_flag_text_has_an_english_rendering(library: rules.RuleLibrary, english: Flask) -> None:
    for industry, grade, category in sorts(library):
        chinese = flags(library, industry, grade, category)
        with english.test_request_context(), force_locale("en"):
            found = flags(library, industry, grade, category)
        assert [p.rule for p in found] == [p.rule for p in chinese]
        for p in found:
            rule = next(r for r in library.rules if r.ref == p.rule)
            # the clause (a document's title) and the rule's notes are data from the rule file
            text = p.message.replace(rule.clause, "")
            for level in LEVELS:
                for q in rule.at(level):
                    text = text.replace(q.note, "") if q.note else text
            assert "required by" in text and not CJK.search(text), p.message
