"""Results: the DuckDB store (runs, manifests, examples, metrics, views) and the figures."""
