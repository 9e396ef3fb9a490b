"""Metric providers: ``query(promql) -> float`` and the MetricsSource built on them."""
