"""Evaluation periods: ``2026-Q3`` (quarterly), ``2026-07`` (monthly), ``2026`` (annual)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

FREQUENCIES = ("monthly", "quarterly", "annual")

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_YEAR = re.compile(r"^(\d{4})$")


class PeriodError(ValueError):
    """A period label that is not ``YYYY-Qn``, ``YYYY-MM`` or ``YYYY``."""


@dataclass(frozen=True, order=True)
class Period:
    """One evaluation period. Ordered by start, then by length (``2026`` < ``2026-Q1``)."""

    start: date
    end: date
    label: str
    frequency: str

    def __str__(self) -> str:
        return self.label


def parse_period(text: str) -> Period:
    """Parse a period label; raise :class:`PeriodError` with a readable message."""
    label = text.strip().upper()
    if m := _QUARTER.match(label):
        year, quarter = int(m[1]), int(m[2])
        first, last = 3 * quarter - 2, 3 * quarter
        return Period(
            date(year, first, 1),
            date(year, last, calendar.monthrange(year, last)[1]),
            f"{year}-Q{quarter}",
            "quarterly",
        )
    if m := _MONTH.match(label):
        year, month = int(m[1]), int(m[2])
        return Period(
            date(year, month, 1),
            date(year, month, calendar.monthrange(year, month)[1]),
            f"{year}-{month:02d}",
            "monthly",
        )
    if m := _YEAR.match(label):
        year = int(m[1])
        return Period(date(year, 1, 1), date(year, 12, 31), f"{year}", "annual")
    raise PeriodError(f"{text!r} is not a period (use 2026-Q3, 2026-07 or 2026)")


def next_period(period: Period) -> Period:
    """The period that follows ``period`` on the same grid."""
    if period.frequency == "annual":
        return parse_period(str(period.start.year + 1))
    if period.frequency == "quarterly":
        year, quarter = period.start.year, (period.start.month - 1) // 3 + 1
        return parse_period(f"{year + quarter // 4}-Q{quarter % 4 + 1}")
    year, month = period.start.year, period.start.month
    return parse_period(f"{year + month // 12}-{month % 12 + 1:02d}")
