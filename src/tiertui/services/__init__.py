"""Services: levelling runs, imports, overrides, certifications, scenarios.

Each takes an engine and the acting person, does one job in one transaction, and
raises :class:`ServiceError` with a message for a person when it cannot.
"""

from .errors import ServiceError

__all__ = ["ServiceError"]
