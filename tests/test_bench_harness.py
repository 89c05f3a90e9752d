"""The benchmark harness itself (fast: no database, no real benchmark is run)."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

from bench import harness
from bench.__main__ import main
from bench.harness import Result

ROOT = Path(__file__).resolve().parent.parent


def fake_module(figure: float = 2.0, baseline: float = 1.0) -> types.ModuleType:
    module = types.ModuleType("bench.fake")
    module.__doc__ = "A fake benchmark for the harness test."
    module.NAME = "fake"  # type: ignore[attr-defined]
    calls = []

    def run(ctx: harness.Context) -> list[Result]:
        calls.append(ctx)
        seconds = harness.measure(lambda: sum(range(100)), number=10, repeat=3)
        assert seconds > 0
        return [
            Result.at_most("slow thing", figure, baseline, "ms", 1.5),
            Result.faster_by("fast thing", 0.5, 10.0, "ms", 10, against="naive"),
            Result.at_least("throughput", 1234.0, 1000.0, "req/s", 1.0),
        ]

    module.run = run  # type: ignore[attr-defined]
    module.calls = calls  # type: ignore[attr-defined]
    return module


def test_fake_module_yields_rows_and_the_table_shows_them() -> None:
    module = fake_module()
    rows, errors = harness.run_modules([module], lambda: harness.Context(None), log=lambda _msg: None)
    assert errors == []
    assert [r.benchmark for r in rows] == ["fake"] * 3
    assert module.calls[0].module == "fake"
    slow, fast, throughput = rows
    assert slow.ratio == 2.0 and slow.passed is False and slow.target == "≤ 1.5× baseline"
    assert fast.passed is True and fast.target == "≥ 10× faster than naive"
    assert throughput.passed is True

    lines = harness.format_table(rows).splitlines()
    assert [c.strip() for c in lines[0].split("|")] == list(harness.COLUMNS)
    cells = [c.strip() for c in lines[2].split("|")]
    assert cells == ["fake", "slow thing", "2.00 ms", "1.00 ms", "2.00×", "≤ 1.5× baseline", "FAIL"]
    assert [c.strip() for c in lines[3].split("|")][2:] == [
        "0.5 ms", "10.00 ms", "0.05×", "≥ 10× faster than naive", "ok",
    ]  # fmt: skip
    assert "1,234 req/s" in lines[4]


def test_a_context_that_is_not_used_creates_nothing() -> None:
    ctx = harness.Context(None)
    assert ctx.backend == "sqlite"
    ctx.close()
    assert ctx._tmp is None and ctx._url is None


def test_a_module_that_raises_is_reported_and_the_others_still_run() -> None:
    broken = types.ModuleType("bench.broken")
    broken.NAME = "broken"  # type: ignore[attr-defined]

    def run(_ctx: harness.Context) -> list[Result]:
        raise RuntimeError("boom")

    broken.run = run  # type: ignore[attr-defined]
    messages: list[str] = []
    rows, errors = harness.run_modules([broken, fake_module()], lambda: harness.Context(None), log=messages.append)
    assert errors == ["broken"]
    assert rows[0].benchmark == "broken" and rows[0].passed is False
    assert [r.benchmark for r in rows[1:]] == ["fake"] * 3
    assert any("boom" in m for m in messages)


def test_exit_status_follows_the_targets(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--only", "fake"], modules={"fake": fake_module(figure=2.0)}) == 1
    out = capsys.readouterr().out
    assert "database: sqlite" in out and "FAIL" in out
    assert main(["--only", "fake"], modules={"fake": fake_module(figure=1.2)}) == 0
    assert main(["--only", "nope"], modules={"fake": fake_module()}) == 2


def test_list_names_the_modules() -> None:
    env = {**os.environ, "LIANFANG_ENV": "testing"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    assert "foundation" in names
