"""Scorecard exports (spec §4): CSV, JSON and XLSX, one row per partner, sorted by partner_id."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from sqlalchemy.engine import Engine

from ..safe_text import spreadsheet_text
from ..scoring import PeriodError, parse_period, score_number, score_text
from ..storage import queries
from . import staleness
from .errors import ServiceError
from .read.engine import Sentences, levelled_periods

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
# A badge name holding the ";" that joins badges in a CSV or XLSX cell: written with this look-alike
# (FULLWIDTH SEMICOLON) so that one badge never reads as two. JSON lists keep names exactly.
BADGE_SEMICOLON = "\uff1b"


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
    designations: tuple[str, ...] | None = None  # (v2) held, sorted; None: the version defines none
    provisional: bool = False  # (v2 §3.13) the period is not published: JSON says so

    def cells(self) -> list[str]:
        """The row as §4 prints it: two-decimal score, true/false, badges joined by ';', and (v2)
        the designations held joined by ';' when the version in force defines designations."""
        return self._cells() + ([";".join(self.designations)] if self.designations is not None else [])

    def _cells(self) -> list[str]:
        return [
            self.partner_id,
            self.period,
            score_text(self.score),  # §3.0: half away from zero from the 6-decimal value
            self.qualified_tier,
            self.earned_tier,
            self.effective_tier,
            self.event,
            "true" if self.at_risk else "false",
            ";".join(b.replace(";", BADGE_SEMICOLON) for b in self.badges),
        ]

    def safe_cells(self) -> list[str]:
        """:meth:`cells` for a spreadsheet: no text cell starts a formula (spec §4, safe output)."""
        cells = self.cells()  # the score (index 2) is a number: "-1.50" stays as it is
        return [cell if i == 2 else str(spreadsheet_text(cell)) for i, cell in enumerate(cells)]


def refuse_database_path(engine: Engine, output: str | Path) -> None:
    """Raise :class:`ServiceError` when ``output`` names the database in use (its file, its -wal,
    -shm or -journal, through a relative path, a symlink or a hard link): writing there would
    destroy it (spec §4: no output path may name the database file in use)."""
    if engine.dialect.name != "sqlite":
        return
    database = engine.url.database or ""
    if database.startswith("file:"):
        from urllib.parse import unquote

        database = unquote(database[len("file:") :].split("?", 1)[0])
    if not database or database == ":memory:":
        return
    db_file = Path(database).expanduser().resolve()
    target = Path(output).expanduser()
    try:
        resolved = target.resolve()
    except (OSError, RuntimeError):  # a symlink loop: not the database, and open() will say why
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = Path(f"{db_file}{suffix}")
        same = resolved == candidate
        if not same and target.exists() and candidate.exists():
            try:
                same = os.path.samefile(target, candidate)
            except OSError:
                same = False
        if same:
            what = "the database file" if not suffix else f"the database's {suffix[1:]} file"
            raise ServiceError(
                f"refusing to write to {output}: it is {what} in use ({db_file.name}); choose another file"
            )


def columns_of(rows: Sequence[ScorecardRow]) -> tuple[str, ...]:
    """§4's columns, and (v2) ``designations`` last when the version in force defines designations."""
    return (*COLUMNS, "designations") if rows and rows[0].designations is not None else COLUMNS


def _designations_held(engine: Engine, label: str, keys: list[int]) -> list[tuple[str, ...]] | None:
    """(v2 §4) Each row's designations held in ``label`` (from the stored group values), or None
    when the version in force at the period's end defines none."""
    from . import timeline

    program = timeline.program_for(timeline.programs(engine), label)
    if program is None or not program.designations:
        return None
    with engine.connect() as conn:
        order = queries.result_metrics(conn)
        blobs = dict(
            queries.fetchall(conn, "SELECT partner_key, group_values FROM level_result WHERE period = ?", (label,))
        )
    names = sorted(d.name for d in program.designations)
    columns = [order.index(f"designation:{n}") if f"designation:{n}" in order else -1 for n in names]
    width = len(order)
    held: list[tuple[str, ...]] = []
    if not keys:
        return held
    matrix = np.frombuffer(b"".join(bytes(blobs[k]) for k in keys), dtype="<f8").reshape(len(keys), width)
    flags = np.stack([matrix[:, c] == 1 if c >= 0 else np.zeros(len(keys), bool) for c in columns], axis=1)
    labels: dict[bytes, tuple[str, ...]] = {}
    for row in flags:
        code = row.tobytes()
        if code not in labels:
            labels[code] = tuple(n for n, f in zip(names, row.tolist()) if f)
        held.append(labels[code])
    return held


def scorecard_rows(engine: Engine, period: str, *, allow_stale: bool = False) -> list[ScorecardRow]:
    """The stored results of ``period``; refused while they are stale unless ``allow_stale``."""
    if not allow_stale and (state := staleness.stale_since(engine)) is not None:
        raise ServiceError(
            f"{staleness.describe(state)}: {staleness.STALE_HINT}, or export them as they are with --allow-stale"
        )
    try:
        label = parse_period(period).label
    except PeriodError as exc:
        raise ServiceError(str(exc)) from None
    names = _badge_names(engine)
    with engine.connect() as conn:
        rows = queries.fetchall(
            conn,
            "SELECT p.partner_id, r.period, r.score, r.qualified_tier, r.earned_tier, r.effective_tier, "
            "r.event, r.at_risk, r.badges, p.key FROM level_result r JOIN partner p ON p.key = r.partner_key "
            "WHERE r.period = ? ORDER BY p.partner_id",
            (label,),
        )
        provisional = label not in queries.published_periods(conn)
    if not rows:
        periods = levelled_periods(engine)
        if not periods:
            raise ServiceError("nothing is levelled yet: run `tiertui level` first")
        raise ServiceError(f"no results for period {label}; levelled periods: {', '.join(periods)}")
    held = _designations_held(engine, label, [r[9] for r in rows])
    return [
        ScorecardRow(
            pid,
            per,
            float(score),
            q,
            e,
            eff,
            ev,
            bool(risk),
            split_badges(b, names) if b else (),
            None if held is None else held[i],
            provisional,
        )
        for i, (pid, per, score, q, e, eff, ev, risk, b, _key) in enumerate(rows)
    ]


def _badge_names(engine: Engine) -> frozenset[str]:
    """Names of the active program's badges that hold a ";" (the rest split on ";" as they are)."""
    from . import programs

    try:
        if programs.active_version(engine) is None:
            return frozenset()
        return frozenset(b.name for b in programs.active_program(engine).badges if ";" in b.name)
    except Exception:  # noqa: BLE001 - a program that no longer loads: split plainly
        return frozenset()


def split_badges(stored: str, names: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The badges stored joined by ";", with a known badge name that holds a ";" kept whole."""
    pieces = stored.split(";")
    if not names:
        return tuple(pieces)
    badges: list[str] = []
    i = 0
    while i < len(pieces):
        for j in range(len(pieces), i + 1, -1):  # the longest known name first
            if ";".join(pieces[i:j]) in names:
                badges.append(";".join(pieces[i:j]))
                i = j
                break
        else:
            badges.append(pieces[i])
            i += 1
    return tuple(badges)


def write_csv(rows: Sequence[ScorecardRow], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns_of(rows))
    writer.writerows(r.safe_cells() for r in rows)


def write_json(rows: Sequence[ScorecardRow], out: IO[str], sentences: Mapping[str, Sentences] | None = None) -> None:
    """Spec §4's fields; with ``sentences`` (:func:`read.engine.period_sentences`) also, per partner,
    the next tier, the gap to it and the at-risk reasons in plain words."""
    data = [
        {
            "partner_id": r.partner_id,
            "period": r.period,
            "score": score_number(r.score),
            "qualified_tier": r.qualified_tier,
            "earned_tier": r.earned_tier,
            "effective_tier": r.effective_tier,
            "event": r.event,
            "at_risk": r.at_risk,
            "badges": list(r.badges),
            **({"designations": list(r.designations)} if r.designations is not None else {}),
            "provisional": r.provisional,
            **(_words(sentences.get(r.partner_id)) if sentences is not None else {}),
        }
        for r in rows
    ]
    json.dump(data, out, indent=1)
    out.write("\n")


def _words(words: Sentences | None) -> dict:
    if words is None:
        return {"next_tier": None, "gap": [], "at_risk_reasons": []}
    return {"next_tier": words.next_tier, "gap": list(words.gap), "at_risk_reasons": list(words.at_risk)}


def write_xlsx(rows: Sequence[ScorecardRow], out: IO[bytes]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("scorecards")
    sheet.append(list(columns_of(rows)))
    for r in rows:
        cells: list[object] = [text_cell(sheet, c) for c in r.safe_cells()]
        cells[2] = score_number(r.score)
        sheet.append(cells)
    book.save(out)


def text_cell(sheet, value: str):
    """A write-only XLSX cell that holds ``value`` as text, never as a formula (openpyxl would read
    any text starting with "=" as one)."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell
