"""Pure response rules: which places an activation covers at which level, what a task requires, how a level
change re-derives it (activation.py); when reports are due and how they stand (reports.py)."""
