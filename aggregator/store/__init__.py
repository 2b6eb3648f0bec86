"""Storage: SQLAlchemy tables, Alembic migrations and the repository API."""

from aggregator.store.repo import SourceState, Store, SyncResult

__all__ = ["SourceState", "Store", "SyncResult"]
