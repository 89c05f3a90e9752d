"""The rule library the checks judge by (inventories/measure_rules), read once per inventory version."""

from __future__ import annotations

from pathlib import Path

from app.config import ROOT
from app.core.memo import by_inventory_version
from app.reduction.domain import rules as dr

RULES_DIR = ROOT / "inventories" / "measure_rules"


@by_inventory_version
def current(root: Path = RULES_DIR) -> dr.RuleLibrary:
    """The rule library, read once per process and inventory version (app/core/memo.py): parsing it costs
    more than a page, and a worker reads it again after the next `flask inventories load`."""
    return dr.load(root)
