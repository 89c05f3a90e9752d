"""Routes: enterprises (being written)."""
