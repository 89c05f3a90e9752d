"""The reduction list's pure domain layer: plain Python and pandas over plain data (no Flask, no database).

`vocabulary` holds the closed word lists, `uscc` the credit code, `policy` the plant facts and measures
with the expected reductions and escalation checks, `rules` the measure rule library, `targets` the
jurisdiction targets.
"""
