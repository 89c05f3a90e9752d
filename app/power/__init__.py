"""Power-consumption checks (issue 14): meter readings in (upload, bulk API, HJ 212 devices), the check of
enterprises under response against their baseline and plant policy, flags out (docs/power.md)."""
