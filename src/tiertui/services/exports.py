"""Scorecard exports (spec §4): CSV, JSON and XLSX, one row per partner, sorted by partner_id."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from sqlalchemy.engine import Engine

from ..scoring import PeriodError, parse_period
from ..storage import queries
from .errors import ServiceError
from .read.engine import levelled_periods

COLUMNS = (
    "partner_id",
    "period",
    "score",
    "qualified_tier",
    "earned_tier",
    "effective_tier",
    "event",
    "at_risk",
    "badges",
)
FORMATS = ("csv", "json", "xlsx")


@dataclass(frozen=True)
class ScorecardRow:
    partner_id: str
    period: str
    score: float
    qualified_tier: str
    earned_tier: str
    effective_tier: str
    event: str
    at_risk: bool
    badges: tuple[str, ...]

    def cells(self) -> list[str]:
        """The row as §4 prints it: two-decimal score, true/false, badges joined by ';'."""
        return [
            self.partner_id,
            self.period,
            f"{self.score:.2f}",
            self.qualified_tier,
            self.earned_tier,
            self.effective_tier,
            self.event,
            "true" if self.at_risk else "false",
            ";".join(self.badges),
        ]


def scorecard_rows(engine: Engine, period: str) -> list[ScorecardRow]:
    try:
        label = parse_period(period).label
    except PeriodError as exc:
        raise ServiceError(str(exc)) from None
    with engine.connect() as conn:
        rows = queries.fetchall(
            conn,
            "SELECT p.partner_id, r.period, r.score, r.qualified_tier, r.earned_tier, r.effective_tier, "
            "r.event, r.at_risk, r.badges FROM level_result r JOIN partner p ON p.key = r.partner_key "
            "WHERE r.period = ? ORDER BY p.partner_id",
            (label,),
        )
    if not rows:
        periods = levelled_periods(engine)
        if not periods:
            raise ServiceError("nothing is levelled yet: run `tiertui level` first")
        raise ServiceError(f"no results for period {label}; levelled periods: {', '.join(periods)}")
    return [
        ScorecardRow(pid, per, float(score), q, e, eff, ev, bool(risk), tuple(b.split(";")) if b else ())
        for pid, per, score, q, e, eff, ev, risk, b in rows
    ]


def write_csv(rows: Sequence[ScorecardRow], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(r.cells() for r in rows)


def write_json(rows: Sequence[ScorecardRow], out: IO[str]) -> None:
    data = [
        {
            "partner_id": r.partner_id,
            "period": r.period,
            "score": round(r.score, 2),
            "qualified_tier": r.qualified_tier,
            "earned_tier": r.earned_tier,
            "effective_tier": r.effective_tier,
            "event": r.event,
            "at_risk": r.at_risk,
            "badges": list(r.badges),
        }
        for r in rows
    ]
    json.dump(data, out, indent=1)
    out.write("\n")


def write_xlsx(rows: Sequence[ScorecardRow], out: IO[bytes]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("scorecards")
    sheet.append(list(COLUMNS))
    for r in rows:
        cells = r.cells()
        cells[2] = round(r.score, 2)
        sheet.append(cells)
    book.save(out)
