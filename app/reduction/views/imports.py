"""Routes: imports (being written)."""
