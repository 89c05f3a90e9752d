"""Cross-checks between bureaus, consistency across the region, the shared expert pool (issue 15, seed 001 五/六)."""
