"""One plant one policy: expected reductions worked by hand, escalation, classification, fact checks."""

from __future__ import annotations

import pytest

from app.reduction.domain.policy import EnterpriseFacts, Measure, MeasureError, PlantPolicy, ProcessUnit
from app.reduction.domain.vocabulary import (
    AlertLevel,
    Category,
    Grade,
    MachineryStage,
    MeasureKind,
    Pollutant,
    ResponseLevel,
    Verification,
)
from tests.reduction.engine import (
    check,
    classification_problems,
    escalation_problems,
    expected_reduction,
    fact_problems,
    full_stop_reduction,
    policy_problems,
    production_cut,
)

SO2, NOX, PM, VOCS = Pollutant.so2, Pollutant.nox, Pollutant.pm, Pollutant.vocs
YEL, ORA, RED = AlertLevel.yellow, AlertLevel.orange, AlertLevel.red
PM_, DCS, GATE, VIDEO = (
    Verification.power_meter,
    Verification.dcs,
    Verification.gate_records,
    Verification.video,
)

# 36.5 / 73 / 18.25 t/a over 365 days = 0.1 / 0.2 / 0.05 t/day
CEMENT = EnterpriseFacts(
    name="某水泥有限公司", category=Category.key, grade=Grade.B, industry="cement_clinker",
    emissions={SO2: 36.5, NOX: 73.0, PM: 18.25, VOCS: 0.0},
)  # fmt: skip
KILN1 = ProcessUnit("k1", "1号熟料线", {SO2: 0.6, NOX: 0.6, PM: 0.4}, 1_500_000, 1_200_000, 1_000_000)
KILN2 = ProcessUnit("k2", "2号熟料线", {SO2: 0.4, NOX: 0.4, PM: 0.4}, 1_000_000, None, None)
YARD = ProcessUnit("yard", "露天堆场", {PM: 0.1}, outdoor=True)
UNITS = (KILN1, KILN2)  # pm: 0.2 of the plant's pm is not allocated to a unit


def stop(unit: str | None = None) -> Measure:
    return Measure(MeasureKind.stop, PM_, unit)


def limit(percent: float, unit: str | None = None) -> Measure:
    return Measure(MeasureKind.limit, DCS, unit, percent)


def offroad(stage: str) -> Measure:
    return Measure(MeasureKind.offroad_ban, VIDEO, max_stage=stage)  # type: ignore[arg-type]


def approx(d: dict[Pollutant, float]) -> dict[Pollutant, object]:
    return {p: pytest.approx(v, abs=1e-12) for p, v in d.items()}


def test_vocabulary_labels_and_levels() -> None:
    assert [level.order for level in AlertLevel.ascending()] == [1, 2, 3]
    assert (YEL.response_level, ORA.response_level, RED.response_level) == (
        ResponseLevel.III, ResponseLevel.II, ResponseLevel.I,
    )  # fmt: skip
    assert AlertLevel.of_response(ResponseLevel.II) is ORA
    assert RED.label == "红色预警" and MeasureKind.output_cap.label == "以量定产/以热定产"
    assert Verification.online_monitoring.label == "在线监测（CEMS）" and Grade.leading.label == "绩效引领性"


def test_reduction_base_is_the_smallest_capacity() -> None:
    assert KILN1.reduction_base == 1_000_000
    assert KILN2.reduction_base == 1_000_000
    assert YARD.reduction_base is None


def test_stop_one_unit() -> None:
    got = expected_reduction(CEMENT, UNITS, [stop("k1")])
    assert got == approx({SO2: 0.06, NOX: 0.12, PM: 0.02, VOCS: 0.0})


def test_whole_plant_limit_reaches_unallocated_share() -> None:
    got = expected_reduction(CEMENT, UNITS, [limit(20)])
    assert got == approx({SO2: 0.02, NOX: 0.04, PM: 0.01, VOCS: 0.0})


def test_overlapping_measures_take_the_strongest() -> None:
    # k1 stopped (1.0), k2 only by the plant-wide 20 %, unallocated pm by 20 %:
    # so2 (0.6 + 0.4·0.2)·0.1 = 0.068; pm (0.4 + 0.4·0.2 + 0.2·0.2)·0.05 = 0.026
    got = expected_reduction(CEMENT, UNITS, [stop("k1"), limit(20)])
    assert got == approx({SO2: 0.068, NOX: 0.136, PM: 0.026, VOCS: 0.0})
    # 30 % and 50 % on the same unit: 50 %, not 80 %
    got = expected_reduction(CEMENT, UNITS, [limit(30, "k2"), limit(50, "k2")])
    assert got[SO2] == pytest.approx(0.4 * 0.5 * 0.1)


def test_output_cap_percent_is_the_allowed_load() -> None:
    cap = Measure(MeasureKind.output_cap, PM_, percent=80)
    assert cap.cut == pytest.approx(0.2)
    assert expected_reduction(CEMENT, UNITS, [cap]) == approx(expected_reduction(CEMENT, UNITS, [limit(20)]))


def test_operating_days() -> None:
    plant = EnterpriseFacts("330天企业", Category.key, Grade.C, emissions={SO2: 33.0}, operating_days=330)
    assert expected_reduction(plant, (), [stop()])[SO2] == pytest.approx(0.1)


def test_transport_and_machinery_count_only_with_their_emissions() -> None:
    measures = [
        Measure(MeasureKind.truck_ban, GATE),
        Measure(MeasureKind.offroad_ban, VIDEO, max_stage="china_2"),
    ]
    assert expected_reduction(CEMENT, UNITS, measures) == approx({p: 0.0 for p in Pollutant})
    mobile = EnterpriseFacts(
        "有车企业", Category.key, Grade.B, emissions={NOX: 73.0},
        truck_emissions={NOX: 3.65, PM: 0.365},
        machinery_emissions={MachineryStage.china_2: {NOX: 0.365}, MachineryStage.china_3: {NOX: 0.73}},
    )  # fmt: skip
    got = expected_reduction(mobile, (), measures)
    assert got[NOX] == pytest.approx(0.01 + 0.001) and got[PM] == pytest.approx(0.001)
    china3 = [Measure(MeasureKind.offroad_ban, VIDEO, max_stage=MachineryStage.china_3)]
    assert expected_reduction(mobile, (), china3)[NOX] == pytest.approx(0.003)
    # staggered transport moves trucks in time, it removes nothing
    assert expected_reduction(mobile, (), [Measure(MeasureKind.staggered_transport, GATE)])[NOX] == 0.0
    # a whole-plant stop ends transport and machinery too
    assert full_stop_reduction(mobile)[NOX] == pytest.approx(0.2 + 0.01 + 0.003)


def test_outdoor_work_ban_reaches_outdoor_units() -> None:
    units = (KILN1, KILN2, ProcessUnit("yard", "露天堆场", {PM: 0.1}, outdoor=True))
    got = expected_reduction(CEMENT, units, [Measure(MeasureKind.outdoor_work_ban, VIDEO)])
    assert got == approx({SO2: 0.0, NOX: 0.0, PM: 0.005, VOCS: 0.0})


def test_production_cut_by_reduction_base() -> None:
    # equal bases (1,000,000 t each): stopping one line is half the production
    assert production_cut(CEMENT, UNITS, [stop("k1")]) == pytest.approx(0.5)
    # without bases the pollutant cut least counts: pm 0.4 of the plant
    no_base = (ProcessUnit("k1", "1号线", KILN1.shares), ProcessUnit("k2", "2号线", KILN2.shares))
    assert production_cut(CEMENT, no_base, [stop("k1")]) == pytest.approx(0.4)


def test_unknown_unit_is_refused() -> None:
    got = check(CEMENT, UNITS, PlantPolicy({YEL: [stop("k9")]}))
    assert [(p.code, p.unit_id) for p in got.problems] == [("unknown_unit", "k9")]
    assert got.problems[0].message == "黄色预警的“停产”指向不存在的工序“k9”"
    assert got.reductions[YEL] == approx(dict.fromkeys(Pollutant, 0.0))  # nothing counted from a broken policy


def test_measure_needs_a_verification_from_the_vocabulary() -> None:
    with pytest.raises(MeasureError) as e:
        Measure(MeasureKind.stop, None)  # type: ignore[arg-type]
    assert str(e.value) == "措施必须写明核查方式（用电监控、在线监测（CEMS）、DCS、视频监控、门禁记录之一）"
    with pytest.raises(MeasureError, match="核查方式“phone_call”不在词表中"):
        Measure(MeasureKind.stop, "phone_call")  # type: ignore[arg-type]
    assert Measure("limit", "dcs", percent=20).kind is MeasureKind.limit  # type: ignore[arg-type]
    with pytest.raises(MeasureError, match="限产：必须填写百分比"):
        Measure(MeasureKind.limit, DCS)
    with pytest.raises(MeasureError, match="百分比120应大于0且不超过100"):
        limit(120)
    with pytest.raises(MeasureError, match="不带百分比"):
        Measure(MeasureKind.stop, PM_, percent=50)
    with pytest.raises(MeasureError, match="针对全厂"):
        Measure(MeasureKind.truck_ban, GATE, "k1")
    with pytest.raises(MeasureError, match="排放阶段"):
        Measure(MeasureKind.offroad_ban, VIDEO)


def test_policy_problems() -> None:
    policy = PlantPolicy({YEL: [stop("k9"), Measure(MeasureKind.truck_ban, PM_)]})
    found = policy_problems(UNITS, policy)
    assert [(p.code, p.level, p.unit_id) for p in found] == [
        ("unknown_unit", YEL, "k9"), ("verification_unsuitable", YEL, None),
    ]  # fmt: skip
    assert found[1].message == "黄色预警的“停用国Ⅳ及以下重型货车”无法用用电监控核查，应为视频监控、门禁记录之一"


GOOD = PlantPolicy({
    YEL: [Measure(MeasureKind.truck_ban, GATE)],
    ORA: [limit(20), Measure(MeasureKind.truck_ban, GATE)],
    RED: [stop()],
})  # fmt: skip


def test_escalating_policy_passes() -> None:
    assert escalation_problems(GOOD) == []
    assert escalation_problems(GOOD, CEMENT, UNITS) == []


def test_weaker_unit_limit_is_refused_with_reason() -> None:
    policy = PlantPolicy({YEL: [limit(30, "k1")], ORA: [limit(20, "k1")], RED: [limit(30, "k1")]})
    found = escalation_problems(policy, CEMENT, UNITS)
    assert len(found) == 1
    assert (found[0].code, found[0].level, found[0].unit_id) == ("escalation_weaker", ORA, "k1")
    assert found[0].message == (
        "橙色预警工序“1号熟料线”的停限产比例（20%）低于黄色预警（30%），"
        "高一级预警的减排措施不得弱于低一级（红色 ⊇ 橙色 ⊇ 黄色）。"
    )


def test_dropped_truck_ban_and_machinery_are_refused() -> None:
    policy = PlantPolicy({
        YEL: [Measure(MeasureKind.truck_ban, GATE)],
        ORA: [Measure(MeasureKind.truck_ban, GATE), offroad("china_3")],
        RED: [limit(50), offroad("china_2")],
    })  # fmt: skip
    found = escalation_problems(policy)
    assert [p.level for p in found] == [RED, RED]
    assert found[0].message.startswith("红色预警未采取橙色预警已有的“停用国Ⅳ及以下重型货车”，")
    assert found[1].message.startswith("红色预警停用非道路移动机械的范围（国Ⅱ及以下）小于橙色预警（国Ⅲ及以下），")


def test_unknown_units_are_named_before_anything_is_compared() -> None:
    policy = PlantPolicy({YEL: [limit(30, "k9")], ORA: [limit(20, "k9")], RED: [stop()]})
    found = check(CEMENT, UNITS, policy).problems
    assert [(p.code, p.level, p.unit_id) for p in found] == [("unknown_unit", YEL, "k9"), ("unknown_unit", ORA, "k9")]


def test_missing_level_is_weaker() -> None:
    found = escalation_problems(PlantPolicy({YEL: [limit(10)], RED: [limit(10)]}))
    assert [(p.level, p.unit_id) for p in found] == [(ORA, None)]
    assert found[0].message.startswith("橙色预警的全厂停限产比例（0%）低于黄色预警（10%），")
    assert "。；" not in found[0].message and found[0].message.endswith("）。")


def test_whole_plant_stop_covers_everything_below() -> None:
    policy = PlantPolicy({
        YEL: [limit(50, "k1"), Measure(MeasureKind.outdoor_work_ban, VIDEO, "yard")],
        ORA: [Measure(MeasureKind.truck_ban, GATE), limit(60), Measure(MeasureKind.outdoor_work_ban, VIDEO)],
        RED: [stop()],
    })  # fmt: skip
    assert escalation_problems(policy, CEMENT, (*UNITS, YARD)) == []


def test_outdoor_ban_must_be_kept() -> None:
    policy = PlantPolicy({
        YEL: [Measure(MeasureKind.outdoor_work_ban, VIDEO)],
        ORA: [Measure(MeasureKind.outdoor_work_ban, VIDEO, "yard")],
        RED: [Measure(MeasureKind.outdoor_work_ban, VIDEO, "yard")],
    })  # fmt: skip
    # the yard is the only outdoor unit: banning outdoor work there keeps the whole-plant ban of yellow
    assert escalation_problems(policy, CEMENT, (*UNITS, YARD)) == []
    # a second outdoor unit without the ban: orange is weaker than yellow
    shed = ProcessUnit("shed", "露天喷涂", {VOCS: 0.5}, outdoor=True)
    found = escalation_problems(policy, CEMENT, (*UNITS, YARD, shed))
    assert [p.level for p in found] == [ORA] and "“停止露天作业”" in found[0].message


def test_facts_accept_the_vocabulary_strings() -> None:
    facts = EnterpriseFacts("甲", "key", "B")  # type: ignore[arg-type]
    assert facts.category is Category.key and facts.grade is Grade.B
    assert EnterpriseFacts("乙", "other", "").grade is None  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'E' is not a valid Grade"):
        EnterpriseFacts("丙", "key", "E")  # type: ignore[arg-type]


def test_classification_key_without_grade_and_grade_off_key() -> None:
    found = classification_problems(EnterpriseFacts("甲", Category.key))
    assert [p.code for p in found] == ["key_without_grade"]
    found = classification_problems(EnterpriseFacts("乙", Category.other, Grade.B))
    assert [(p.code, p.message) for p in found] == [
        ("grade_not_key", "只有重点企业评定绩效分级，其他企业不应标注“B级”")
    ]
    assert classification_problems(CEMENT) == []


def test_micro_classification() -> None:
    small = {SO2: 0.01, NOX: 0.02, PM: 0.03, VOCS: 0.039}  # 99 kg
    assert classification_problems(EnterpriseFacts("小微", Category.micro, emissions=small)) == []
    at_limit = {SO2: 0.01, NOX: 0.02, PM: 0.03, VOCS: 0.04}  # 100 kg: not below 100 kg
    found = classification_problems(EnterpriseFacts("不小", Category.micro, emissions=at_limit, uses_coal=True))
    assert [p.code for p in found] == ["not_micro"]
    assert found[0].message.endswith("：燃煤；二氧化硫、氮氧化物、颗粒物、挥发性有机物合计100千克/年，不低于100千克")
    oil = EnterpriseFacts("燃油", Category.micro, emissions=small, uses_oil=True, toxic=True)
    assert classification_problems(oil)[0].message.endswith("：燃油；排放有毒有害大气污染物")


def test_fact_problems() -> None:
    units = (KILN1, ProcessUnit("k2", "2号熟料线", {SO2: 0.5, PM: 1.5}), ProcessUnit("k1", "重复", {}))
    bad = EnterpriseFacts("坏数据", Category.key, Grade.B, emissions={SO2: -1.0}, operating_days=400)
    codes = [p.code for p in fact_problems(bad, units)]
    assert codes == ["negative_value", "operating_days", "share_range", "duplicate_unit", "shares_exceed",
                     "shares_exceed"]  # fmt: skip
    assert fact_problems(CEMENT, UNITS) == []
