"""Shared pytest fixtures. Fixture modules live in tests/support/."""

pytest_plugins: list[str] = ["tests.support.db", "tests.support.sites_server", "tests.support.serve"]
