"""Storage: SQLModel tables, the engine, and bulk queries. No user interface here."""

from .database import DatabaseError, default_url, is_sqlite, open_engine, redact, resolve_url
from .tables import (
    AppUser,
    AuditEntry,
    Certification,
    LevelResult,
    LevelRun,
    MetricValue,
    OfflineCopy,
    Override,
    Partner,
    ProgramVersion,
    Scenario,
)

__all__ = [
    "AppUser",
    "AuditEntry",
    "Certification",
    "DatabaseError",
    "LevelResult",
    "LevelRun",
    "MetricValue",
    "OfflineCopy",
    "Override",
    "Partner",
    "ProgramVersion",
    "Scenario",
    "default_url",
    "is_sqlite",
    "open_engine",
    "redact",
    "resolve_url",
]
