"""Plain Python over data (no Flask, no database): forecast files, AQI from concentrations, evaluation."""
