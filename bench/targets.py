"""Targets: a province's 20,000 enterprises at every level and variant, against one pandas sum of the frame."""

from __future__ import annotations

from bench.harness import Context, Result, compare
from tests.reduction.test_targets import synthetic_province

NAME = "targets"
ENTERPRISES = 20_000


def run(ctx: Context) -> list[Result]:
    from app.reduction.domain import targets
    from app.reduction.domain.vocabulary import AlertLevel

    df, totals = synthetic_province(ENTERPRISES)
    variants = ({}, {"combine_so2_nox": True}, {"ozone": True})

    def all_targets() -> None:
        province = targets.select(df, ["510000"])
        results = [targets.assess(province, totals, level, **v) for level in AlertLevel for v in variants]
        assert all(r.enterprises == ENTERPRISES for r in results)

    def bare_sums() -> None:
        df.select_dtypes("number").sum()

    fig, base = compare(all_targets, bare_sums, number=1, repeat=5)
    ctx.log(f"targets of {ENTERPRISES:,} enterprises, 3 levels × 3 variants: {fig:.3f} s")
    return [Result.info(f"{ENTERPRISES // 1000}k enterprises, 9 targets", fig * 1e3, base * 1e3, "ms")]
