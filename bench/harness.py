"""Shared pieces of the benchmarks: result rows, timing, a fresh database per module, discovery, the table.

A benchmark module is any module of the `bench` package other than `harness` and `__main__`; it defines

    NAME = "foundation"
    def run(ctx: Context) -> list[Result]: ...

Every `Result` compares a figure with a baseline measured in the same run, so the ratio (not the absolute
figure, which depends on the machine) is what a target is about.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import shutil
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SKIP_MODULES = {"harness", "__main__"}
# hash_password("bench-password-not-secret"): users the benchmarks create; nobody logs in with it.
PASSWORD_HASH = (
    "scrypt:32768:8:1$2MTjtqXcNyLZhMq8$de864384a9a2b75bc3a7012ebbf37ad2889a1a427ba1d2e86f41639228a760fb"
    "d27b6d6799819aa50184cad2a687332f27d329a790b9bda9a465ea093defad32"
)
DEFAULT_SECRET_KEY = "bench-secret-key-not-for-production-" + "x" * 16


def ensure_env() -> None:
    """The app refuses to start without a SECRET_KEY; benchmarks run as `testing` unless told otherwise."""
    os.environ.setdefault("LIANFANG_ENV", "testing")
    if len(os.environ.get("SECRET_KEY", "")) < 32:
        os.environ["SECRET_KEY"] = DEFAULT_SECRET_KEY


# --- results -----------------------------------------------------------------------------------------------


@dataclass
class Result:
    """One measured figure against its baseline. `passed` is None when there is no target to meet."""

    name: str
    figure: float
    baseline: float
    unit: str
    target: str = ""
    passed: bool | None = None
    benchmark: str = ""  # filled in by the runner from the module's NAME

    @property
    def ratio(self) -> float | None:
        return self.figure / self.baseline if self.baseline else None

    @classmethod
    def at_most(cls, name: str, figure: float, baseline: float, unit: str, max_ratio: float) -> Result:
        """Lower is better (a time): the figure may cost at most `max_ratio` times the baseline."""
        return cls(name, figure, baseline, unit, f"≤ {max_ratio:g}× baseline", figure <= max_ratio * baseline)

    @classmethod
    def at_least(cls, name: str, figure: float, baseline: float, unit: str, min_ratio: float) -> Result:
        """Higher is better (a throughput): the figure must reach `min_ratio` times the baseline."""
        return cls(name, figure, baseline, unit, f"≥ {min_ratio:g}× baseline", figure >= min_ratio * baseline)

    @classmethod
    def faster_by(
        cls, name: str, figure: float, baseline: float, unit: str, factor: float, against: str = "baseline"
    ) -> Result:
        """Lower is better, and the figure must beat the baseline (say a naive version) `factor` times."""
        return cls(name, figure, baseline, unit, f"≥ {factor:g}× faster than {against}", figure * factor <= baseline)

    @classmethod
    def info(cls, name: str, figure: float, baseline: float, unit: str) -> Result:
        """Reported, not judged."""
        return cls(name, figure, baseline, unit, "", None)


# --- timing ------------------------------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def time_calls(fn: Callable[[], Any], number: int) -> float:
    """Seconds per call of `fn`, averaged over `number` consecutive calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def measure(fn: Callable[[], Any], *, number: int = 1, repeat: int = 5, warmup: int = 1) -> float:
    """Median over `repeat` rounds of the seconds per call (each round makes `number` calls)."""
    for _ in range(warmup):
        fn()
    return median(time_calls(fn, number) for _ in range(repeat))


def compare(
    figure: Callable[[], Any],
    baseline: Callable[[], Any],
    *,
    number: int = 1,
    repeat: int = 5,
    warmup: int = 1,
) -> tuple[float, float]:
    """Seconds per call of `figure` and of `baseline` (medians over `repeat` rounds).

    The two are measured in alternating rounds, with the order swapped every round, so that drift in the
    machine's speed (another process, a cache warming up, a growing table) falls on both equally.
    """
    for _ in range(warmup):
        figure()
        baseline()
    fig: list[float] = []
    base: list[float] = []
    for i in range(repeat):
        if i % 2 == 0:
            fig.append(time_calls(figure, number))
            base.append(time_calls(baseline, number))
        else:
            base.append(time_calls(baseline, number))
            fig.append(time_calls(figure, number))
    return median(fig), median(base)


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """`with stopwatch() as elapsed: ...; elapsed()` gives the seconds since the block started."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


# --- the database ------------------------------------------------------------------------------------------


def migrate(url: str) -> None:
    """Bring an empty database to the newest schema, as tests/conftest.py does."""
    from alembic import command

    from app.cli import alembic_config

    cfg = alembic_config(url)
    cfg.attributes["skip_logging"] = True
    command.upgrade(cfg, "head")


def _server_engine(server_url: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    admin_url = make_url(server_url).set(database="postgres")
    return create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=_null_pool())


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


def create_scratch_database(server_url: str) -> str:
    """Create an empty PostgreSQL database on the server of `server_url`; return its URL."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"lianfang_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine = _server_engine(server_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_scratch_database(server_url: str, url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    if not name or not name.startswith("lianfang_bench_"):
        raise ValueError(f"refusing to drop {name!r}: not a scratch database of the benchmarks")
    engine = _server_engine(server_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


class Context:
    """What a benchmark module gets: a fresh migrated database and an app on it, both made on first use.

    `server_url` is None for SQLite (a file in a temporary directory) or a PostgreSQL URL naming the server
    on which a scratch database is created and, at `close()`, dropped.
    """

    def __init__(self, server_url: str | None = None, *, log: Callable[[str], None] | None = None) -> None:
        self.server_url = server_url or None
        self._log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._tmp: Path | None = None
        self._url: str | None = None
        self._app: Any = None
        self.module = ""

    @property
    def backend(self) -> str:
        return "postgresql" if self.server_url else "sqlite"

    @property
    def tmp(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="lianfang-bench-"))
        return self._tmp

    @property
    def url(self) -> str:
        """The URL of the fresh database, created and migrated on first use."""
        if self._url is None:
            with stopwatch() as elapsed:
                url = create_scratch_database(self.server_url) if self.server_url else f"sqlite:///{self.tmp}/bench.db"
                self._url = url
                migrate(url)
            self.log(f"migrated a fresh {self.backend} database in {elapsed():.1f} s")
        return self._url

    @property
    def app(self) -> Any:
        """A Flask app on the fresh database (`with ctx.app.app_context(): ...`)."""
        if self._app is None:
            ensure_env()
            from app import create_app

            self._app = create_app(
                {
                    "DATABASE_URL": self.url,
                    "UPLOAD_DIR": str(self.tmp / "uploads"),
                    "SESSION_COOKIE_SECURE": False,
                    "LOGIN_RATE_LIMIT": "100000 per minute",
                }
            )
        return self._app

    @property
    def db(self) -> Any:
        return self.app.extensions["lianfang.db"]

    @contextmanager
    def session(self, scope: Any = None) -> Iterator[Any]:
        """A new session (not the app's scoped one) with `scope`, or the operator's scope; closed after."""
        from app.core.scoping import Scope, set_scope

        session = self.db.session_factory()
        try:
            set_scope(session, scope if scope is not None else Scope.everything())
            yield session
        finally:
            session.close()

    def log(self, message: str) -> None:
        self._log(f"[{self.module or 'bench'}] {message}")

    def describe(self) -> str:
        if not self.server_url:
            return "sqlite (file in a temporary directory, WAL)"
        from sqlalchemy.engine import make_url

        u = make_url(self.server_url)
        return f"postgresql at {u.host or 'localhost'}:{u.port or 5432} (a scratch database per module)"

    def close(self) -> None:
        if self._app is not None:
            self.db.session.remove()
            self.db.engine.dispose()
            self._app = None
        if self._url is not None and self.server_url:
            try:
                drop_scratch_database(self.server_url, self._url)
            except Exception as exc:  # report, and still remove the temporary files
                self.log(f"could not drop the scratch database: {exc}")
        self._url = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


# --- discovery and running ---------------------------------------------------------------------------------


def discover() -> dict[str, ModuleType]:
    """Every benchmark module of the package, by its NAME, in file-name order."""
    import bench

    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda i: i.name):
        if info.name in SKIP_MODULES or info.name.startswith("_") or info.ispkg:
            continue
        module = importlib.import_module(f"bench.{info.name}")
        name = getattr(module, "NAME", None)
        if isinstance(name, str) and callable(getattr(module, "run", None)):
            found[name] = module
    return found


def first_line(module: ModuleType) -> str:
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""


def run_modules(
    modules: Sequence[ModuleType],
    make_context: Callable[[], Context],
    *,
    log: Callable[[str], None] | None = None,
) -> tuple[list[Result], list[str]]:
    """Run each module with its own fresh context; return every row and the names of modules that raised."""
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    rows: list[Result] = []
    errors: list[str] = []
    for module in modules:
        ctx = make_context()
        ctx.module = module.NAME
        with stopwatch() as elapsed:
            try:
                results = list(module.run(ctx))
            except Exception:  # one broken benchmark must not hide the others
                say(f"[{module.NAME}] failed:\n{traceback.format_exc()}")
                errors.append(module.NAME)
                results = [Result(name="(raised an exception)", figure=float("nan"), baseline=float("nan"),
                                  unit="", target="runs", passed=False)]  # fmt: skip
            finally:
                ctx.close()
        say(f"[{module.NAME}] done in {elapsed():.1f} s")
        for result in results:
            result.benchmark = module.NAME
        rows.extend(results)
    return rows, errors


# --- the table ---------------------------------------------------------------------------------------------

COLUMNS = ("benchmark", "measure", "figure", "baseline", "ratio", "target", "ok")


def format_number(value: float) -> str:
    if value != value:  # NaN
        return "—"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_figure(value: float, unit: str) -> str:
    text = format_number(value)
    return f"{text} {unit}" if unit and text != "—" else text


def format_ratio(ratio: float | None) -> str:
    if ratio is None or ratio != ratio:
        return "—"
    return f"{ratio:.2f}×"


def format_ok(passed: bool | None) -> str:
    return {True: "ok", False: "FAIL", None: "-"}[passed]


def table_rows(results: Iterable[Result]) -> list[tuple[str, ...]]:
    return [
        (
            r.benchmark, r.name, format_figure(r.figure, r.unit), format_figure(r.baseline, r.unit),
            format_ratio(r.ratio), r.target or "-", format_ok(r.passed),
        )
        for r in results
    ]  # fmt: skip


def format_table(results: Iterable[Result]) -> str:
    body = table_rows(results)
    widths = [max(len(c) for c in column) for column in zip(COLUMNS, *body, strict=False)]
    numeric = {2, 3, 4}

    def line(cells: Sequence[str]) -> str:
        return " | ".join(
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(COLUMNS), rule, *(line(r) for r in body)])


def any_failed(results: Iterable[Result]) -> bool:
    return any(r.passed is False for r in results)
