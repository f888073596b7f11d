"""The hostile-tenant suite: every test names the attack it refuses and runs against real processes,
in both deployment shapes where the attack crosses the network (the `shape` and `deploy` fixtures
of tests/conftest.py, tests/support/deployment.py)."""
