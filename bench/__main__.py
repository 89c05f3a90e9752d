"""The benchmark runner: `python -m bench [--list] [--only NAME ...]`.

Runs every benchmark module (or the ones named), each on a fresh database, and prints one table. The
database is SQLite in a temporary directory unless BENCH_DATABASE_URL names a PostgreSQL server
(postgresql+psycopg://user@host:port/postgres), on which a scratch database is created and dropped.
Exit status: 0 when every target is met, 1 when one is not, 2 on a usage error or a benchmark that raised.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from bench import harness


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run Lianfang's benchmarks.")
    parser.add_argument("--list", action="store_true", help="list the benchmark modules and exit")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME",
        help="run only this module (repeatable; comma-separated names are accepted too)",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, modules: dict[str, ModuleType] | None = None) -> int:
    args = parse_args(argv)
    harness.ensure_env()
    available = modules if modules is not None else harness.discover()

    if args.list:
        width = max((len(n) for n in available), default=0)
        for name, module in available.items():
            print(f"{name.ljust(width)}  {harness.first_line(module)}".rstrip())
        return 0

    wanted = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    selected = [available[n] for n in dict.fromkeys(wanted)] if wanted else list(available.values())

    server_url = os.environ.get("BENCH_DATABASE_URL") or None
    if server_url and not server_url.startswith("postgresql"):
        print("BENCH_DATABASE_URL must be a postgresql:// URL (SQLite is the default)", file=sys.stderr)
        return 2

    def make_context() -> harness.Context:
        return harness.Context(server_url)

    results, errors = harness.run_modules(selected, make_context)
    print(f"database: {make_context().describe()}")
    print(harness.format_table(results))
    if errors:
        return 2
    return 1 if harness.any_failed(results) else 0


if __name__ == "__main__":
    sys.exit(main())
