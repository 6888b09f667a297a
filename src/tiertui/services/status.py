"""Where the data stands: periods, how complete each one is, the last levelling run (spec §4 status).

A channel manager asks this before trusting a quarter: did everyone report, are the results
current. A period "looks partial" when some metric that the program uses, and that at least
:data:`REGULAR_SHARE` of the partners reported in the period before, was reported by fewer than
:data:`PARTIAL_SHARE` of those partners (a partial upload of a new quarter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from ..safe_text import visible
from ..scoring import PeriodError, Program, parse_period
from ..scoring.program import CERT_PREFIX
from ..storage import queries
from .programs import active_program, active_version
from .staleness import stale_since

PARTIAL_SHARE = 0.9
# Only metrics that most partners report are compared: a sparse one (escalations, a flag stored
# only when set) moves by more than 10 % between quarters on its own.
REGULAR_SHARE = 0.5


@dataclass(frozen=True)
class MetricCompleteness:
    metric: str
    label: str
    reported: int
    partners: int

    def text(self) -> str:
        return f"{self.label}: {self.reported:,} of {self.partners:,} reported"


@dataclass
class PeriodStatus:
    period: str
    metrics: list[MetricCompleteness]
    partial: list[str] = field(default_factory=list)  # why the period looks partial, one line a metric

    @property
    def looks_partial(self) -> bool:
        return bool(self.partial)


@dataclass
class LastRun:
    finished_at: datetime | None
    run_by: str
    periods: str


@dataclass
class Status:
    program: str
    version: int
    partners: int
    periods: list[PeriodStatus]
    last_run: LastRun | None
    stale_since: datetime | None = None
    stale_because: str = ""
    # (v2 §3.11) periods with data that end before the earliest version's effective_from
    not_evaluated: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)  # the timeline, when more than one version is in force

    def latest(self) -> PeriodStatus | None:
        return self.periods[-1] if self.periods else None

    def text(self) -> str:
        """What ``tiertui status`` prints: plain text, data made visible (names come from files)."""
        lines = [f"Program: {visible(self.program)} v{self.version} · {self.partners:,} partners"]
        if not self.periods:
            lines.append("Periods: none yet (import metrics to evaluate a period)")
        else:
            first, last = self.periods[0].period, self.periods[-1].period
            lines.append(f"Periods: {len(self.periods)} ({first} to {last})")
            lines.append("Partners that reported each metric:")
            names = [visible(m.label) for m in self.periods[0].metrics]
            width = max((len(n) for n in names), default=6)
            cells = [[f"{m.reported:,}" for m in p.metrics] for p in self.periods]
            widths = [max([len(p.period), *(len(c) for c in column)]) for p, column in zip(self.periods, cells)]
            lines.append("  " + " " * width + "".join(f"  {p.period:>{w}}" for p, w in zip(self.periods, widths)))
            for k, name in enumerate(names):
                row = "".join(f"  {column[k]:>{w}}" for column, w in zip(cells, widths))
                lines.append(f"  {name:<{width}}{row}")
            for p in self.periods:
                for reason in p.partial:
                    lines.append(f"! {p.period} looks partial: {visible(reason)}")
        for v in self.versions:
            lines.append(f"Version: {visible(v)}")
        if self.not_evaluated:
            lines.append(
                f"Not evaluated (before the earliest version's effective_from): {', '.join(self.not_evaluated)}"
            )
        if self.last_run is None:
            lines.append("Last levelling run: never (run `tiertui level`)")
        else:
            when = f"{self.last_run.finished_at:%Y-%m-%d %H:%M} UTC" if self.last_run.finished_at else "unfinished"
            lines.append(f"Last levelling run: {when} by {visible(self.last_run.run_by)}")
        if self.stale_since is not None:
            lines.append(
                f"Results: stale since {self.stale_since:%Y-%m-%d %H:%M} UTC ({visible(self.stale_because)});"
                " run `tiertui level`"
            )
        elif self.last_run is not None:
            lines.append("Results: current")
        return "\n".join(lines)


def completeness(program: Program, partners: int, counts: dict[tuple[str, str], int]) -> list[PeriodStatus]:
    """Per period (oldest first), how many partners reported each metric the program uses."""
    metrics = [m for m in program.used_metrics() if not m.startswith(CERT_PREFIX) and m in program.metrics]
    labels = {period for period, _metric in counts}
    ordered = []
    for label in labels:
        try:
            ordered.append((parse_period(label), label))
        except PeriodError:
            continue  # a period off every grid is reported by the import that refuses it
    ordered.sort()
    result: list[PeriodStatus] = []
    for _period, label in ordered:
        lines = [MetricCompleteness(m, program.label_of(m), counts.get((label, m), 0), partners) for m in metrics]
        status = PeriodStatus(label, lines)
        before = result[-1] if result else None
        for k, line in enumerate(lines):
            earlier = before.metrics[k].reported if before is not None else 0
            if earlier >= REGULAR_SHARE * partners and line.reported < PARTIAL_SHARE * earlier:
                if before is not None:
                    status.partial.append(f"{line.label}: {line.reported:,} reported, {earlier:,} in {before.period}")
        result.append(status)
    return result


def read_status(engine: Engine) -> Status:
    """Everything ``tiertui status`` prints and the dashboard warns about."""
    version = active_version(engine)
    program = active_program(engine)
    with engine.connect() as conn:
        partners = int(queries.fetchall(conn, "SELECT COUNT(*) FROM partner")[0][0])
        counts = queries.reported_counts(conn)
        run = queries.fetchall(conn, "SELECT finished_at, run_by, periods FROM level_run ORDER BY id DESC LIMIT 1")
        stale = stale_since(conn)
    last = LastRun(_when(run[0][0]), run[0][1], run[0][2]) if run else None
    assert version is not None  # active_program refused already
    status = Status(program.name, version.version, partners, completeness(program, partners, counts), last)
    if stale is not None:
        status.stale_since, status.stale_because = stale
    from datetime import date

    from . import timeline

    entries, status.not_evaluated = timeline.describe(engine, date.today())
    if len(entries) > 1:
        status.versions = [f"v{e.version} {e.name} {e.dates()}: governs {e.governs()}" for e in entries]
    return status


def _when(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
