"""Alerts: forecasts and observations in, evaluation under a plan's rules (app/alerts/domain)."""
