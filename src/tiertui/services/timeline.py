"""Program versions over time (spec v2 §3.11), as stored: which versions are in force, which
periods each governs, and what loading a new one would do.

Every loaded version is a ``program_version`` row. ``in_force`` marks the versions of the
timeline and ``effective_from`` (a copy of the file's ``[program] effective_from``) orders them;
``active`` marks the one in force for the newest periods (the last of the timeline), which the
rest of the app reads as "the program". A version without a date makes itself the only one in
force; one dated D keeps those in force before D and replaces those dated on or after D.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, select

from ..scoring import PeriodError, Program, parse_period, parse_program, sort_timeline, timeline_after_load
from ..scoring.evaluate import tier_map
from ..storage import queries
from ..storage.tables import ProgramVersion
from .errors import ServiceError

_parsed: dict[str, Program] = {}


def parsed(row: ProgramVersion) -> Program:
    """A stored version's program, parsed once per content."""
    if row.content_hash not in _parsed:
        _parsed[row.content_hash] = parse_program(row.content, row.source_name or row.name)
    return _parsed[row.content_hash]


def in_force(source: Engine | Session | Connection) -> list[ProgramVersion]:
    """The versions in force, oldest date first (undated first)."""
    if isinstance(source, Connection):
        with Session(bind=source) as session:
            rows = in_force(session)
            for r in rows:
                session.expunge(r)
            return rows
    if isinstance(source, Session):
        rows = list(source.exec(select(ProgramVersion).where(ProgramVersion.in_force == True)))  # noqa: E712
    else:
        with Session(source) as session:
            rows = list(session.exec(select(ProgramVersion).where(ProgramVersion.in_force == True)))  # noqa: E712
            for r in rows:
                session.expunge(r)
    if not rows:  # a database from before versions over time: the active version alone
        if isinstance(source, Session):
            rows = list(source.exec(select(ProgramVersion).where(ProgramVersion.active == True)))  # noqa: E712
        else:
            with Session(source) as session:
                rows = list(session.exec(select(ProgramVersion).where(ProgramVersion.active == True)))  # noqa: E712
                for r in rows:
                    session.expunge(r)
    return sorted(rows, key=lambda r: (parsed(r).effective_from or date.min, r.version))


def programs(source: Engine | Session | Connection) -> list[Program]:
    """The timeline's programs, oldest date first (what ``scoring.level_timeline`` takes)."""
    return [parsed(r) for r in in_force(source)]


def program_for(timeline: list[Program], period: str) -> Program | None:
    """The version in force at ``period``'s end; None before the earliest."""
    try:
        end = parse_period(period).end
    except PeriodError:
        return None
    chosen = None
    for p in sort_timeline(timeline):
        if (p.effective_from or date.min) <= end:
            chosen = p
    return chosen


def _stored_periods(conn: Connection) -> list[str]:
    try:
        return [p.label for p in sorted(parse_period(x) for x in queries.read_periods(conn))]
    except PeriodError:
        return []


@dataclass(frozen=True)
class TimelineEntry:
    """One version of the timeline, for ``tiertui program list`` and the app."""

    version: int
    name: str
    source_name: str
    starts: date | None  # None: from the start
    ends: date | None  # the day before the next version's date; None: open-ended
    periods: tuple[str, ...]  # the periods with data it governs
    active: bool  # in force for the newest periods
    in_force_today: bool

    def dates(self) -> str:
        start = self.starts.isoformat() if self.starts else "the start"
        end = self.ends.isoformat() if self.ends else "open-ended"
        return f"from {start}" + (f" to {end}" if self.ends else " (open-ended)")

    def governs(self) -> str:
        if not self.periods:
            return "no period with data"
        if len(self.periods) == 1:
            return self.periods[0]
        return f"{self.periods[0]} to {self.periods[-1]} ({len(self.periods)} periods)"


def describe(engine: Engine, today: date) -> tuple[list[TimelineEntry], list[str]]:
    """The timeline, and the periods with data before the earliest version (not evaluated)."""
    rows = in_force(engine)
    with engine.connect() as conn:
        periods = _stored_periods(conn)
    progs = [parsed(r) for r in rows]
    entries = []
    before = [p for p in periods if progs and program_for(progs, p) is None]
    for i, (row, prog) in enumerate(zip(rows, progs)):
        nxt = progs[i + 1].effective_from if i + 1 < len(progs) else None
        ends = nxt - timedelta(days=1) if nxt else None
        governed = tuple(p for p in periods if program_for(progs, p) is prog)
        start = prog.effective_from
        entries.append(
            TimelineEntry(
                row.version,
                prog.name,
                row.source_name,
                start,
                ends,
                governed,
                i == len(rows) - 1,
                (start or date.min) <= today and (ends is None or today <= ends),
            )
        )
    return entries, before


@dataclass
class LoadPlan:
    """What loading a version would do (``tiertui program load`` says it before it is kept)."""

    program: Program
    timeline: list[Program]  # the versions in force afterwards
    replaced: list[str] = field(default_factory=list)  # versions no longer in force, in words
    periods: list[str] = field(default_factory=list)  # periods with data it will govern
    before: list[str] = field(default_factory=list)  # periods with data before the earliest version
    carried_from: str = ""  # the version whose tiers are carried into it ("" when it comes first)
    moves: list[tuple[str, str, int]] = field(default_factory=list)  # (old tier, new tier, partners)

    def text(self) -> str:
        p = self.program
        lines = []
        when = f"in force from {p.effective_from.isoformat()}" if p.effective_from else "the only version in force"
        lines.append(f"{p.name}: {when}.")
        if self.replaced:
            lines.append("Replaces " + "; ".join(self.replaced) + ".")
        if self.periods:
            span = self.periods[0] if len(self.periods) == 1 else f"{self.periods[0]} to {self.periods[-1]}"
            lines.append(
                f"Governs {span} ({len(self.periods)} period{'s' if len(self.periods) != 1 else ''} with data)."
            )
        else:
            lines.append("Governs no period with data yet.")
        if self.before:
            lines.append(f"Not evaluated: {', '.join(self.before)} (before the earliest version's effective_from).")
        if self.carried_from:
            if self.moves:
                lines.append(f"Tiers carried from {self.carried_from}:")
                for old, new, count in self.moves:
                    arrow = f"{old} -> {new}" if old != new else f"{old} (same name)"
                    lines.append(f"  {arrow}: {count:,} partner{'s' if count != 1 else ''}")
            tr = p.transition
            if tr is not None and tr.protect_through is not None:
                floor = (
                    "the tier carried"
                    if tr.protect == "carried"
                    else f"the highest tier of the {tr.lookback_periods} periods before the change"
                )
                lines.append(f"Protected through {tr.protect_through.isoformat()}: nobody falls below {floor}.")
        elif p.transition is not None and p.transition.protect_through is not None:
            lines.append("It is the first version in force: its [transition] maps tiers on record and protects nobody.")
        return "\n".join(lines)


def plan_load(session: Session, program: Program) -> LoadPlan:
    """What loading ``program`` does to the timeline; refuses (ServiceError) a version whose map
    leaves a tier that partners hold at the change unmapped, naming the tier and how many."""
    rows = in_force(session)
    current = [parsed(r) for r in rows]
    after = timeline_after_load(current, program)
    kept = set(map(id, after))
    replaced = [
        f"v{r.version} {parsed(r).name!r}"
        + (f" (from {start.isoformat()})" if (start := parsed(r).effective_from) else "")
        for r in rows
        if id(parsed(r)) not in kept
    ]
    conn = session.connection()
    periods = _stored_periods(conn)
    plan = LoadPlan(program, after, replaced)
    plan.periods = [x for x in periods if program_for(after, x) is program]
    plan.before = [x for x in periods if program_for(after, x) is None]
    start = program.effective_from or date.min
    previous = [x for x in periods if x not in plan.periods and parse_period(x).end < start]
    last = previous[-1] if previous else None
    old = program_for(after, last) if last else None
    if old is None:
        if not (plan.periods or (after and after[0] is program)):
            return plan  # it governs nothing yet and carries nothing
        # the first version in force (even before any period has data): tiers on record are read
        # through its map, so one that partners are on must have a place in it
        held = Counter(
            t for (t,) in queries.fetchall(conn, "SELECT tier FROM partner WHERE tier IS NOT NULL AND tier <> ''")
        )
        missing = {t: c for t, c in held.items() if program.carried_tier(t) is None}
        if missing:
            t, c = next(iter(sorted(missing.items())))
            who = _first_ids(conn, "SELECT partner_id FROM partner WHERE tier = ? ORDER BY partner_id", (t,), c)
            raise ServiceError(
                f"{c:,} partner{'s have' if c != 1 else ' has'} tier {t!r} on record ({who}), which "
                f"{program.name!r} neither has nor maps: add it to [transition] tiers (tiers: {', '.join(program.tiers)})"
            )
        return plan
    plan.carried_from = f"{old.name!r} ({last})"
    held = Counter(
        dict(
            queries.fetchall(
                conn, "SELECT earned_tier, COUNT(*) FROM level_result WHERE period = ? GROUP BY earned_tier", (last,)
            )
        )
    )
    table = tier_map(old, program, strict=False)
    for i, t in enumerate(old.tiers):
        count = int(held.get(t, 0))
        if table[i] < 0:
            if count:
                who = _first_ids(
                    conn,
                    "SELECT p.partner_id FROM level_result r JOIN partner p ON p.key = r.partner_key "
                    "WHERE r.period = ? AND r.earned_tier = ? ORDER BY p.partner_id",
                    (last, t),
                    count,
                )
                raise ServiceError(
                    f"tier {t!r} of {old.name!r} has no place in {program.name!r}: {count:,} partner"
                    f"{'s hold' if count != 1 else ' holds'} it in {last} ({who}); map it in [transition] tiers "
                    f"(tiers: {', '.join(program.tiers)})"
                )
            continue
        if count:
            plan.moves.append((t, program.tiers[int(table[i])], count))
    return plan


def _first_ids(conn: Connection, sql: str, params: tuple, count: int, limit: int = 5) -> str:
    """ "M4" / "P1, P2, P3, P4, P5 and 12 more": the partners a refusal names (spec §3.11)."""
    ids = [r[0] for r in queries.fetchall(conn, f"{sql} LIMIT {int(limit)}", params)]
    more = count - len(ids)
    return ", ".join(ids) + (f" and {more:,} more" if more > 0 else "")


def protection_at(timeline: list[Program], periods: list[str], earned: dict[str, str], period: str):
    """(floor tier index, protected through) of one partner in ``period``, from its stored earned
    tiers by period (§3.11), or (None, None) when the period is not protected."""
    prog = program_for(timeline, period)
    if prog is None or prog.transition is None or prog.transition.protect_through is None:
        return None, None
    if parse_period(period).end > prog.transition.protect_through:
        return None, None
    mine = [p for p in periods if program_for(timeline, p) is prog]
    before = [p for p in periods if parse_period(p) < parse_period(mine[0])] if mine else []
    if not before:
        return None, None  # the first version evaluated: nothing changed, nothing protected
    tr = prog.transition
    looked = before[-tr.lookback_periods :] if tr.protect == "highest" else before[-1:]
    floor = -1
    for p in looked:
        old = program_for(timeline, p)
        name = earned.get(p)
        if old is None or name is None or name not in old.tiers:
            continue
        index = int(tier_map(old, prog, strict=False)[old.tier_index(name)])
        floor = max(floor, index)
    return (floor if floor >= 0 else None), tr.protect_through


def import_view(session: Session) -> Program:
    """What imports check rows against (v2 §3.11): the active version, with the metrics every
    version in force declares, and every tier name a version has or maps (a tier on record is read
    by the first version evaluated, through its map)."""
    import dataclasses

    versions = programs(session)
    active = versions[-1]
    if len(versions) == 1 and (active.transition is None or not active.transition.tiers):
        return active  # (a first version's [transition] maps tiers on record too: below)
    metrics = {}
    tiers: dict[str, None] = {}
    for p in versions:
        metrics.update({k: v for k, v in p.metrics.items() if k not in metrics})
        tiers.update(dict.fromkeys(p.tiers))
        if p.transition is not None:
            tiers.update(dict.fromkeys(p.transition.tiers))
    return dataclasses.replace(active, metrics=metrics, tiers=tuple(tiers))


def run_metrics(versions: list[Program]) -> list[str]:
    """The metric order of stored group values for a timeline: every version's used metrics, in
    order of first use (a version's alone when there is one)."""
    seen: dict[str, None] = {}
    for p in versions:
        seen.update(dict.fromkeys(p.used_metrics()))
    return list(seen)
