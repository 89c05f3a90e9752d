"""Benchmarks of Lianfang: `python -m bench` (or `make bench`) runs every module in this package.

Each module other than `harness` and `__main__` exposes `NAME` and `run(ctx) -> list[Result]`; see
bench/README.md.
"""
