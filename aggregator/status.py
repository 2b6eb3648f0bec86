"""Each configured source with its last known state, as ``sources list`` and ``/status`` show it."""

from __future__ import annotations

from datetime import datetime, timezone

from aggregator.config import Config
from aggregator.logs import redact_url
from aggregator.store import SourceState


def source_rows(config: Config, states: dict[str, SourceState]) -> list[dict]:
    """One JSON-ready row per configured source, in configuration order (URLs without their password)."""
    rows = []
    for s in config.sources:
        st = states.get(s.id) or SourceState(id=s.id)
        rows.append(
            {
                "id": s.id,
                "network": s.network,
                "kind": s.kind,
                "enabled": s.enabled,
                "url": redact_url(s.url),  # a password in the URL is not shown
                "last_run": _iso(st.last_fetch_at),
                "last_success": _iso(st.last_success_at),
                "outcome": st.last_outcome,
                "http_status": st.last_status,
                "events": st.event_count,
                "error": redact_url(st.last_error) if st.last_error else None,
                "suspicious": st.suspicious,
                "warnings": st.last_warnings,
            }
        )
    return rows


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat(timespec="seconds")
