"""Pure domain logic of the cross-checks: the stratified sample and the consistency analysis (no Flask, no DB)."""
