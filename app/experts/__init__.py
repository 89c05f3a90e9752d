"""The shared expert pool and grading reviews (issue 15 point 4, seed 001 六)."""
