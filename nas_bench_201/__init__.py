"""NAS-Bench-201 search space: RLNAS end to end."""
