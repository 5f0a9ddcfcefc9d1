"""Alembic migrations of the results store (run programmatically by :mod:`harness.store.engine`)."""
