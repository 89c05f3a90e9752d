"""The factor codes of power meters in HJ 212 packets, loaded from inventories/power/factors.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "inventories" / "power" / "factors.toml"
KINDS = ("production", "control", "total")


@dataclass(frozen=True)
class Factor:
    code: str
    kind: str
    name: str
    unit: str
    factor: float  # value × factor = kWh


def load_factors(path: Path = DEFAULT_PATH) -> dict[str, Factor]:
    """Every factor by code; a bad entry raises ValueError naming the file and entry."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    factors: dict[str, Factor] = {}
    for number, entry in enumerate(data.get("factor", []), start=1):
        where = f"{path.name} 第 {number} 个 factor"
        try:
            item = Factor(code=str(entry["code"]), kind=str(entry["kind"]), name=str(entry["name"]),
                          unit=str(entry["unit"]), factor=float(entry["factor"]))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}：缺少或无效的字段 {exc}") from exc
        if item.kind not in KINDS:
            raise ValueError(f"{where}：kind「{item.kind}」须为 {'/'.join(KINDS)}")
        if item.factor <= 0:
            raise ValueError(f"{where}：factor 须大于 0")
        if item.code in factors:
            raise ValueError(f"{where}：编码 {item.code} 重复")
        factors[item.code] = item
    return factors
