"""Case services: numbering, the transition function, transfers, evidence storage and queries."""
