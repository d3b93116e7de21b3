"""Running it for real: metrics (metrics.py), the health endpoint (health.py) and the hooks
that feed them from the running bot (hooks.py)."""
