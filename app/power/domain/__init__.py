"""Plain Python / dataframe code of the power checks: no Flask, no database."""
