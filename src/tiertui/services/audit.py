"""The append-only audit log: every write records who, when and what."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from ..storage.tables import AuditEntry


def record(session: Session, user: str, action: str, entity: str = "", entity_id: Any = "", **detail: Any) -> None:
    """Add an audit entry to ``session``; it commits with the write it describes."""
    session.add(
        AuditEntry(
            actor=user,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            detail=json.dumps(detail, default=str, sort_keys=True),
        )
    )
