"""Observability tests run against real processes in both deployment shapes (the `shape` and
`deploy` fixtures of tests/conftest.py)."""
