"""Response services: activation (tasks from an episode's units), checks, photos, reports, queries."""
