"""Routes: targets (being written)."""
