"""The campaign's stratified sample and the consistency analysis, as plain data."""

from __future__ import annotations

import pytest

from app.crosscheck.domain.consistency import STRONGER, WEAKER, analyse, for_bureau, frame
from app.crosscheck.domain.sampling import Candidate, SampleError, draw, sample_size


def _list(n_brick_c: int = 40, n_cement_b: int = 25, n_coating: int = 35) -> list[Candidate]:
    out, i = [], 1
    for industry, grade, n in (
        ("brick", "C", n_brick_c),
        ("cement_clinker", "B", n_cement_b),
        ("coating", None, n_coating),
    ):
        for _ in range(n):
            out.append(Candidate(i, industry, grade))
            i += 1
    return out


def test_a_ten_percent_sample_takes_a_tenth_of_every_industry_and_grade() -> None:
    s = draw(_list(), 0.10, seed=20261207)
    sizes = {(st.industry, st.grade): len(st.drawn) for st in s.strata}
    assert sizes == {("brick", "C"): 4, ("cement_clinker", "B"): 2, ("coating", "-"): 4}  # tie at .5: the larger
    assert len(s.enterprise_ids) == 10 == sample_size(100, 0.10)
    brick = next(st for st in s.strata if st.industry == "brick")
    assert set(brick.drawn) <= set(range(1, 41))


def test_the_same_seed_draws_the_same_enterprises_and_another_seed_others() -> None:
    first = draw(_list(), 0.10, seed=7).enterprise_ids
    assert draw(list(reversed(_list())), 0.10, seed=7).enterprise_ids == first  # order of the list does not matter
    assert draw(_list(), 0.10, seed=8).enterprise_ids != first


def test_a_change_in_one_stratum_does_not_move_another() -> None:
    base = draw(_list(), 0.10, seed=3)
    more_coating = draw(_list(n_coating=36), 0.10, seed=3)
    pick = {st.industry: st.drawn for st in base.strata}
    assert {st.industry: st.drawn for st in more_coating.strata}["brick"] == pick["brick"]


def test_a_small_list_still_gets_one_enterprise_and_bad_shares_are_refused() -> None:
    assert len(draw(_list(3, 0, 0), 0.10, seed=1).enterprise_ids) == 1
    assert draw([], 0.10, seed=1).enterprise_ids == ()
    for share in (0, -0.1, 1.5):
        with pytest.raises(SampleError):
            draw(_list(), share, seed=1)
    with pytest.raises(SampleError):
        draw(_list(), 0.1, seed=-1)


def _rows() -> list[dict]:
    rows = []
    # Region: brick C yellow, three bureaus. Bureau 2 (潼南-like) cuts 20 %, the others 50 %.
    for bureau, cut, n in ((1, 50, 5), (2, 20, 3), (3, 50, 4)):
        for k in range(n):
            rows.append(dict(bureau=bureau, enterprise_id=bureau * 100 + k, industry="brick", grade="C",
                             level="yellow", cut_pct=cut, lines_pct=0, transport=1))  # fmt: skip
    rows.append(dict(bureau=1, enterprise_id=999, industry="cement_clinker", grade="C", level="yellow",
                     cut_pct=0, lines_pct=50, transport=1))  # fmt: skip
    return rows


def test_a_bureau_cutting_less_than_the_regional_median_is_listed_with_the_reason() -> None:
    a = analyse(frame(_rows()))
    brick = a.regional[(a.regional.industry == "brick") & (a.regional.grade == "C")].iloc[0]
    assert (brick.n, brick.cut_pct) == (12, 50.0)
    out = a.outliers
    assert len(out) == 1
    row = out.iloc[0]
    assert (row.bureau, row.industry, row.grade, row.level, row.metric, row.direction) == (
        2, "brick", "C", "yellow", "cut_pct", WEAKER
    )  # fmt: skip
    assert (row.value, row.region, row.n) == (20.0, 50.0, 3)


def test_a_stronger_bureau_is_listed_too_and_a_bureau_sees_only_its_own_rows() -> None:
    rows = [r | {"cut_pct": 80} if r["bureau"] == 3 else r for r in _rows()]
    a = analyse(frame(rows))
    assert set(zip(a.outliers.bureau, a.outliers.direction, strict=True)) == {(2, WEAKER), (3, STRONGER)}
    mine = for_bureau(a, 3)
    assert set(mine.bureaus.bureau) == {3} and set(mine.outliers.bureau) == {3}
    assert len(mine.regional) == len(a.regional)  # the region in aggregates


def test_an_empty_region_gives_empty_tables_and_missing_columns_are_refused() -> None:
    a = analyse(frame([]))
    assert a.regional.empty and a.outliers.empty
    with pytest.raises(ValueError, match="cut_pct"):
        analyse(frame(_rows()).drop(columns="cut_pct"))
