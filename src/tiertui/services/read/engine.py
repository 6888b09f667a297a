"""The read side through the engine: dashboard figures, paged partner and certification lists,
scorecards across periods, subsidiaries and what they contribute, certification lapse risk; and
:class:`EngineReader`, the :class:`tiertui.services.read.Reader` on any database.

Lists are served in two steps so that 100,000 rows stay fluid: :func:`partner_keys` returns
the ordered keys of every matching row (one narrow query, run off the UI thread), and
:func:`partner_rows` fetches the few rows that are visible, by key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
from sqlalchemy.engine import Engine

from ...scoring import EVENTS, Program, Scorecard, explain, next_period, own_sources, parse_period
from ...scoring import evaluate as ev
from ...scoring.evaluate import Certifications, Lapse, lapsing_people
from ...scoring.numbers import number_text, score_text, value_text
from ...scoring.program import CERT_PREFIX
from ...scoring.scorecard import designations_lost, designations_met
from ...storage import queries
from .. import timeline
from ..errors import ServiceError
from ..group_certifications import GroupCertifications
from ..levelling import results_version
from ..programs import active_version
from . import sql as statements
from .sql import (  # the list types live in sql, which the app loads before the engine
    PARTNER_SORTS,
    CertificationQuery,
    Dashboard,
    FilterChoices,
    PartnerQuery,
    PartnerRow,
    ProgramHeading,
)

CERT_STATUSES = ("all", "active", "expiring30", "expiring60", "expiring90", "expired")
CERT_STATUS_LABELS = {
    "all": "Any status",
    "active": "Active",
    "expiring30": "Expiring ≤ 30 days",
    "expiring60": "Expiring ≤ 60 days",
    "expiring90": "Expiring ≤ 90 days",
    "expired": "Expired",
}


def program_or_none(engine: Engine) -> Program | None:
    """The active program (parsed once per version), or None when none is loaded."""
    version = active_version(engine)
    if version is None:
        return None
    return statements.parsed_program(version.content_hash, version.content, version.source_name or version.name)


def results_program_or_none(engine: Engine) -> Program | None:
    """The program that produced the stored results: explanations must use its rules, even when
    another version has been activated since (until the next levelling run)."""
    version = results_version(engine)
    if version is None:
        return program_or_none(engine)
    return statements.parsed_program(version.content_hash, version.content, version.source_name or version.name)


def _iso(conn, value: date):
    return statements.iso(conn.dialect.name, value)


def _date(value) -> date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _day(value) -> date:
    """A NOT NULL date column's value."""
    day = _date(value)
    assert day is not None
    return day


def _unsearchable(text: str) -> bool:
    return statements.unsearchable(text)


def _contains(conn, text: str) -> tuple[str, list]:
    return statements.contains(conn.dialect.name, text)


def _position(conn) -> str:
    return statements.position(conn.dialect.name)


def _fetch(conn):
    """``statements``' way to run a statement, on ``conn``."""
    return lambda sql, params=(): queries.fetchall(conn, sql, params)


# --------------------------------------------------------------------------- periods


def levelled_periods(engine: Engine) -> list[str]:
    """Every levelled period, oldest first."""
    with engine.connect() as conn:
        return statements.levelled_periods(_fetch(conn))


def latest_period(engine: Engine) -> str | None:
    periods = levelled_periods(engine)
    return periods[-1] if periods else None


# --------------------------------------------------------------------------- dashboard


def dashboard(engine: Engine, today: date) -> Dashboard:
    program = program_or_none(engine)
    period = latest_period(engine)
    with engine.connect() as conn:
        return statements.dashboard(
            _fetch(conn),
            conn.dialect.name,
            program.name if program else None,
            program.tiers if program else (),
            period,
            today,
        )


# --------------------------------------------------------------------------- partner list


def partner_keys(
    engine: Engine,
    q: PartnerQuery,
    program: Program | None = None,
    limit: int | None = None,
    *,
    tiers: Sequence[str] | None = None,
) -> np.ndarray:
    """The keys of every partner that matches ``q``, in the order of ``q``'s sort (the first ``limit``).

    A sort by tier follows the tiers of ``program`` (or ``tiers``), lowest first.
    """
    if q.sort not in PARTNER_SORTS:
        raise ServiceError(f"cannot sort by {q.sort!r}")
    if tiers is None:
        tiers = program.tiers if program else ()
    period = q.period or latest_period(engine) or ""
    with engine.connect() as conn:
        keys = statements.partner_keys(_fetch(conn), conn.dialect.name, q, period, tiers, limit)
    return np.fromiter(keys, dtype=np.int64, count=len(keys))


def partner_search_texts(engine: Engine) -> dict[int, str]:
    """Every partner's key to its casefolded ``id NUL name``: what type-to-filter matches, in memory.

    :func:`text_matches` on these gives what ``PartnerQuery.text`` selects in SQL, without a LIKE
    scan of the whole table per keystroke (about 0.1 s at 100,000 partners).
    """
    with engine.connect() as conn:
        return statements.search_texts(_fetch(conn))


def partner_rows(engine: Engine, keys: Sequence[int], period: str | None) -> list[PartnerRow]:
    """The rows of ``keys`` (in that order) with their results for ``period``."""
    keys = [int(k) for k in keys]
    if not keys:
        return []
    with engine.connect() as conn:
        return statements.partner_rows(_fetch(conn), keys, period)


def filter_choices(engine: Engine, *, tracks: bool = True) -> FilterChoices:
    """The values the filters offer; ``tracks=False`` skips a scan of every certification."""
    program = program_or_none(engine)
    with engine.connect() as conn:
        regions, types, managers = statements.partner_choices(_fetch(conn))
        track_values = statements.certification_tracks(_fetch(conn)) if tracks else ()
        designations = statements.designation_names(_fetch(conn))
    return FilterChoices(tuple(program.tiers) if program else (), regions, types, managers, track_values, designations)


def certification_tracks(engine: Engine) -> tuple[str, ...]:
    """The certification tracks there are, sorted (the certifications list's track filter)."""
    with engine.connect() as conn:
        return statements.certification_tracks(_fetch(conn))


@dataclass(frozen=True)
class PartnerHit:
    partner_id: str
    name: str
    region: str
    tier: str | None


def find_partners(engine: Engine, text: str, limit: int = 20) -> list[PartnerHit]:
    """Partners whose id or name contains ``text`` (case-insensitive): exact id first, then names that
    start with it, then the rest; ties in natural order of name, then id."""
    text = text.strip()
    if not text or _unsearchable(text):
        return []
    period = latest_period(engine) or ""
    with engine.connect() as conn:
        where, params = _contains(conn, text)
        rows = queries.fetchall(
            conn,
            "SELECT p.partner_id, p.name, p.region, r.effective_tier FROM partner p "
            f"LEFT JOIN level_result r ON r.partner_key = p.key AND r.period = ? WHERE {where} "
            f"ORDER BY CASE WHEN LOWER(p.partner_id) = ? THEN 0 WHEN {_position(conn).format('LOWER(p.name)')} = 1 "
            "THEN 1 ELSE 2 END, p.name_sort_key, p.id_sort_key, p.partner_id LIMIT ?",
            (period, *params, text.casefold(), text.casefold(), limit),
        )
    return [PartnerHit(r[0], r[1], r[2] or "", r[3]) for r in rows]


# --------------------------------------------------------------------------- one partner


@dataclass(frozen=True)
class PartnerInfo:
    key: int
    partner_id: str
    name: str
    region: str
    country: str
    partner_type: str
    parent_id: str | None
    parent_name: str | None
    account_manager: str
    tier_on_record: str | None
    tier_since: date | None


def partner_info(engine: Engine, partner_id: str) -> PartnerInfo:
    if _unsearchable(partner_id):
        raise ServiceError(f"no partner {partner_id!r}")
    with engine.connect() as conn:
        rows = queries.fetchall(
            conn,
            "SELECT p.key, p.partner_id, p.name, p.region, p.country, p.partner_type, p.parent_id, q.name, "
            "p.account_manager, p.tier, p.tier_since FROM partner p LEFT JOIN partner q ON q.partner_id = p.parent_id "
            "WHERE p.partner_id = ?",
            (partner_id,),
        )
    if not rows:
        raise ServiceError(f"no partner {partner_id!r}")
    r = rows[0]
    return PartnerInfo(r[0], r[1], r[2], r[3] or "", r[4] or "", r[5] or "", r[6], r[7], r[8] or "", r[9], _date(r[10]))


@dataclass(frozen=True)
class TrendPoint:
    period: str
    score: float
    effective_tier: str
    event: str


@dataclass(frozen=True)
class CertificationRow:
    id: int
    partner_id: str
    partner_name: str
    person: str
    certification: str
    track: str
    earned_on: date
    expires_on: date | None
    status: str  # active | expiring | expired
    days_left: int | None


@dataclass(frozen=True)
class Contribution:
    partner_id: str
    name: str
    tier: str | None
    values: dict[str, float]  # metric -> the subsidiary's group value (its share of the parent's)


@dataclass(frozen=True)
class OverrideLine:
    id: int
    tier: str
    reason: str
    starts_on: date
    expires_on: date | None
    status: str
    requested_by: str
    decided_by: str | None
    note: str


@dataclass
class PartnerScorecard:
    info: PartnerInfo
    periods: list[str]
    period: str | None
    card: Scorecard | None
    program: Program | None
    trend: list[TrendPoint]
    certifications: list[CertificationRow]
    subsidiaries: list[Contribution]
    parent_values: dict[str, float]
    contribution_metrics: list[str]
    overrides: list[OverrideLine]


def certification_status(earned_on: date, expires_on: date | None, today: date) -> tuple[str, int | None]:
    if expires_on is None:
        return "active", None
    days = (expires_on - today).days
    if days < 0:
        return "expired", days
    if days <= 90:
        return "expiring", days
    return "active", days


@dataclass(frozen=True)
class _Context:
    """What explaining one partner's stored result of any period needs besides the result row."""

    program: Program
    info: PartnerInfo
    periods: list[str]  # the partner's levelled periods, oldest first
    reported: dict[str, set[str]]  # metric -> periods with a stored own value
    certs: Certifications  # the group's certifications (partner 0 is this partner)
    parent: np.ndarray
    metric_order: list[str]
    by_period: dict  # period -> the stored result row
    versions: list[Program]  # (v2 §3.11) the versions in force, when more than one


def _group_keys(conn, partner_id: str, key: int) -> tuple[list[int], list[int]]:
    """This partner's key and every descendant's (its group), with each one's parent position."""
    keys, parent = [key], [-1]
    frontier = [(partner_id, 0)]
    while frontier and len(keys) < 100_000:
        ids = [f[0] for f in frontier]
        position = {f[0]: f[1] for f in frontier}
        frontier = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = queries.fetchall(
                conn,
                f"SELECT key, partner_id, parent_id FROM partner WHERE parent_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for k, pid, par in rows:
                if k in keys:  # a cycle: stop
                    continue
                keys.append(k)
                parent.append(position[par])
                frontier.append((pid, len(keys) - 1))
    return keys, parent


def _context(
    conn,
    program: Program,
    info: PartnerInfo,
    periods: list[str],
    metric_order: list[str],
    by_period: dict,
    versions: list[Program],
) -> _Context:
    every = versions if len(versions) > 1 else [program]  # the metrics and tracks any version reads
    used = list(dict.fromkeys(m for v in every for m in v.used_metrics()))
    declared = [m for m in used if any(m in v.metrics for v in every)]
    reported: dict[str, set[str]] = {m: set() for m in declared}
    if declared and periods:
        rows = queries.fetchall(
            conn,
            f"SELECT period, metric FROM metric_value WHERE period IN ({','.join('?' * len(periods))}) "
            f"AND metric IN ({','.join('?' * len(declared))}) AND partner_key = ?",
            [*periods, *declared, info.key],
        )
        for period, metric in rows:
            reported[metric].add(period)
    tracks = [m[len(CERT_PREFIX) :] for m in used if m.startswith(CERT_PREFIX)]
    certs, parent = Certifications.empty(), np.array([-1], dtype=np.int64)
    if tracks:
        keys, parents = _group_keys(conn, info.partner_id, info.key)
        cols = queries.read_certifications(conn, tracks, np.array(keys, dtype=np.int64))
        index = {k: i for i, k in enumerate(keys)}
        certs = Certifications(
            np.array([index[int(k)] for k in cols.partner_key], dtype=np.int64),
            ev.person_codes(cols.person),
            cols.track,
            cols.earned,
            cols.expires,
            cols.person,
        )
        parent = np.array(parents, dtype=np.int64)
    return _Context(program, info, periods, reported, certs, parent, metric_order, by_period, versions)


def _lapsing(ctx: _Context, program: Program, period: str) -> dict[str, list[Lapse]]:
    p = parse_period(period)
    end, next_end = p.end, next_period(p).end
    tracks = [m[len(CERT_PREFIX) :] for m in program.used_metrics() if m.startswith(CERT_PREFIX)]
    return {CERT_PREFIX + t: lapsing_people(ctx.certs, ctx.parent, 0, t, end, next_end) for t in tracks}


def _explain_row(ctx: _Context, row) -> Scorecard | None:
    """``row``: (period, score, qualified, earned, effective, override_id, event, below, group_values)."""
    period = row[0]
    program, floor, through = ctx.program, None, None
    if len(ctx.versions) > 1:  # (v2 §3.11) the version in force at the period's end explains it
        program = timeline.program_for(ctx.versions, period) or program
        earned = {p: ctx.by_period[p][3] for p in ctx.periods}
        floor, through = timeline.protection_at(ctx.versions, ctx.periods, earned, period)
    tiers = program.tiers
    if not (all(t in tiers for t in (row[3], row[4])) and row[6] in EVENTS):
        return None
    values = queries.unpack_group_values(row[8], ctx.metric_order)
    return explain(
        program,
        ctx.info.region,
        ctx.info.partner_type,
        values,
        period,
        tiers.index(row[3]),
        EVENTS.index(row[6]),
        int(row[7]),
        tiers.index(row[4]),
        row[5],
        sources=own_sources(program, ctx.periods, ctx.reported, period),
        lapsing=_lapsing(ctx, program, period),
        designation_last=_designation_last(program, ctx.periods, period, ctx.by_period, ctx.metric_order),
        floor=floor,
        protected_through=through,
        version=_version_words(program, ctx.versions),
    )


_RESULT_COLUMNS = (
    "period, score, qualified_tier, earned_tier, effective_tier, override_id, event, below, group_values, at_risk"
)


def partner_scorecard(engine: Engine, partner_id: str, period: str | None, today: date) -> PartnerScorecard:
    """Everything the scorecard screen shows for one partner and one period (default: the latest)."""
    info = partner_info(engine, partner_id)
    program = results_program_or_none(engine)
    with engine.connect() as conn:
        results = queries.fetchall(
            conn,
            f"SELECT {_RESULT_COLUMNS} FROM level_result WHERE partner_key = ?",
            (info.key,),
        )
        cert_rows = queries.fetchall(
            conn,
            "SELECT id, person, certification, track, earned_on, expires_on FROM certification "
            "WHERE partner_key = ? ORDER BY track, person, certification",
            (info.key,),
        )
        children = queries.fetchall(
            conn, "SELECT key, partner_id, name FROM partner WHERE parent_id = ? ORDER BY partner_id", (partner_id,)
        )
        override_rows = queries.fetchall(
            conn,
            "SELECT id, tier, reason, starts_on, expires_on, status, requested_by, decided_by, note "
            "FROM tier_override WHERE partner_key = ? ORDER BY id DESC",
            (info.key,),
        )
        metric_order = queries.result_metrics(conn)
        by_period = {r[0]: r for r in results}
        periods = [p.label for p in sorted(parse_period(x) for x in by_period)]
        if period not in by_period:
            period = periods[-1] if periods else None
        child_results = {}
        if children and period:
            marks = ",".join("?" * len(children))
            child_results = {
                r[0]: r
                for r in queries.fetchall(
                    conn,
                    f"SELECT partner_key, effective_tier, group_values FROM level_result "
                    f"WHERE period = ? AND partner_key IN ({marks})",
                    [period, *[c[0] for c in children]],
                )
            }
        versions = timeline.programs(engine) if program and period else []
        ctx = _context(conn, program, info, periods, metric_order, by_period, versions) if program and period else None
    card = None
    parent_values: dict[str, float] = {}
    if ctx is not None and period:
        r = by_period[period]
        parent_values = queries.unpack_group_values(r[8], metric_order)
        card = _explain_row(ctx, r)
    trend = [TrendPoint(p, float(by_period[p][1]), by_period[p][4], by_period[p][6]) for p in periods]
    certs = []
    for cid, person, cert, track, earned, expires in cert_rows:
        earned, expires = _day(earned), _date(expires)
        status, days = certification_status(earned, expires, today)
        certs.append(
            CertificationRow(cid, info.partner_id, info.name, person, cert, track, earned, expires, status, days)
        )
    metrics = []
    if program:
        metrics = [
            m
            for m in program.used_metrics()
            if m.startswith(CERT_PREFIX) or (m in program.metrics and program.metrics[m].rollup == "sum")
        ]
    subsidiaries = []
    for key, cid, cname in children:
        res = child_results.get(key)
        vals = queries.unpack_group_values(res[2], metric_order) if res else {}
        subsidiaries.append(
            Contribution(cid, cname, res[1] if res else None, {m: float(vals.get(m, 0)) for m in metrics})
        )
    overrides = [
        OverrideLine(o[0], o[1], o[2], _day(o[3]), _date(o[4]), o[5], o[6], o[7], o[8] or "") for o in override_rows
    ]
    return PartnerScorecard(
        info, periods, period, card, program, trend, certs, subsidiaries, parent_values, metrics, overrides
    )


def _designation_last(program: Program, periods: list[str], period: str, by_period, metric_order) -> dict:
    """(v2 §3.12) Each designation -> the last period up to ``period`` it was met in, within its
    keep-window, from the partner's stored group values (None: not met in it)."""
    if not program.designations:
        return {}
    upto = periods[: periods.index(period) + 1]
    result: dict[str, str | None] = {d.name: None for d in program.designations}
    window = max(d.keep_periods for d in program.designations)
    for p in reversed(upto[-1 - window :]):
        met = designations_met(program, queries.unpack_group_values(by_period[p][8], metric_order))
        for d in program.designations:
            if result[d.name] is None and met.get(d.name):
                result[d.name] = p
    return result


def _version_words(program: Program, versions: list[Program]) -> str:
    """ "Helios Partner Program 2026, in force from 2026-01-01" when more than one version is in force."""
    if len(versions) <= 1:
        return ""
    return program.name + (f", in force from {program.effective_from.isoformat()}" if program.effective_from else "")


# --------------------------------------------------------------------------- history (why a partner moved)


@dataclass(frozen=True)
class HistoryLine:
    """One period of a partner's history: its result and, on a change of tier or of at-risk, why."""

    period: str
    tier: str  # effective
    event: str
    score: float
    at_risk: bool
    change: str  # "▼ Gold → Silver in 2026-Q3" / "! at risk from 2026-Q3" / "" when nothing changed
    reasons: tuple[str, ...]  # the requirements whose result changed from the period before


def _requirement_changes(before: Scorecard, now: Scorecard) -> list[str]:
    """The requirements (of either period's earned tier) whose met or close result changed."""

    def key(c):
        return (c.tier, c.kind, c.metric)

    old = {key(c): c for c in before.checks}
    out = []
    tiers = {before.earned, now.earned}  # the next tier's closeness is no reason for a move
    for c in now.checks:
        if c.tier not in tiers:
            continue
        o = old.get(key(c))
        if o is None or (o.met == c.met and o.close == c.close):
            continue
        if c.kind == "min_score":
            shown, limit = score_text(c.value), number_text(c.threshold)
            label = "Score"
        else:
            shown, limit = value_text(c.value, c.unit), value_text(c.threshold, c.unit)
            label = c.label
        if c.flag:
            out.append(f"{label} ({c.tier}): {shown}, was {value_text(o.value, o.unit)}")
        elif o.met and not c.met:
            word = "rose above" if c.kind == "maximum" else "fell below"
            out.append(f"{label} {shown} {word} {limit} ({c.tier})")
        elif c.met and not o.met:
            word = "is at most" if c.kind == "maximum" else "reached"
            out.append(f"{label} {shown} {word} {limit} ({c.tier})")
        elif c.close:
            out.append(f"{label} {shown} is close to {limit} ({c.tier})")
        else:
            out.append(f"{label} {shown} is no longer close to {limit} ({c.tier})")
    old_lapse = {r.metric for r in before.risks if r.kind == "lapse"}
    for r in now.risks:
        if r.kind == "lapse" and r.metric not in old_lapse:
            out.append(r.text)
        if r.kind == "grace" and before.event != "grace":
            out.append(r.text)
    return out


def _why_tier(card: Scorecard, before: Scorecard, prev, row) -> list[str]:
    """A change of tier with no requirement that changed: an override, or grace that ran out."""
    if row[5] != prev[5]:
        return [f"override #{row[5]} applies" if row[5] is not None else f"override #{prev[5]} ended"]
    unmet = [c for c in card.checks if c.tier == before.earned and not c.met]
    if before.event == "grace" and unmet:
        return ["grace used up, still below " + before.earned + ": " + "; ".join(c.describe() for c in unmet)]
    return [f"{c.describe()}" for c in unmet]


def carried_name(old: Program, new: Program, tier: str) -> str | None:
    """(v2 §3.11) The name ``tier`` of ``old`` carries into ``new``: by ``new``'s ``[transition] tiers``
    map, else the same name; None when neither places it (or ``old`` has no such tier)."""
    if tier not in old.tiers:
        return None
    index = int(ev.tier_map(old, new, strict=False)[old.tier_index(tier)])
    return new.tiers[index] if index >= 0 else None


def _version_words_at(old: Program, new: Program, was: str, period: str) -> str:
    """ "new program version 'FY27' in 2026-Q1: Authorized is now Registered" (or "still Gold")."""
    mapped = carried_name(old, new, was)
    words = f"{was} is now {mapped}" if mapped is not None and mapped != was else f"still {was}"
    return f"new program version {new.name!r} in {period}: {words}"


def _version_change(old: Program, new: Program, prev, row, period: str) -> tuple[str, bool]:
    """The history's line for the first period of a new version, and whether the tier moved: "◇ new
    program version 'X' in 2026-Q1: Authorized is now Registered" when the tier is the old one read
    through the map (no move); a real move across the change stays a move (▲/▼), naming the old
    tier, its new name and the tier now: "▲ Authorized (now Registered) → Silver in 2026-Q1"."""
    was, tier = prev[4], row[4]
    mapped = carried_name(old, new, was)
    if mapped is None or tier == mapped:
        return "◇ " + _version_words_at(old, new, was, period), False
    order = new.tiers
    up = tier in order and order.index(tier) > order.index(mapped)
    moved = f"{was} (now {mapped}) → {tier}" if mapped != was else f"{was} → {tier}"
    return f"{'▲' if up else '▼'} {moved} in {period}", True


def partner_history(engine: Engine, partner_id: str) -> list[HistoryLine]:
    """Every levelled period of one partner, oldest first, each change of tier or at-risk explained
    from the stored results and group values (the program's explain on each period)."""
    info = partner_info(engine, partner_id)
    program = results_program_or_none(engine)
    with engine.connect() as conn:
        rows = queries.fetchall(conn, f"SELECT {_RESULT_COLUMNS} FROM level_result WHERE partner_key = ?", (info.key,))
        metric_order = queries.result_metrics(conn)
        by_period = {r[0]: r for r in rows}
        periods = [p.label for p in sorted(parse_period(x) for x in by_period)]
        versions = timeline.programs(engine) if program and periods else []
        ctx = _context(conn, program, info, periods, metric_order, by_period, versions) if program and periods else None
    lines: list[HistoryLine] = []
    cards: dict[str, Scorecard | None] = {}

    def card_of(period: str) -> Scorecard | None:  # explained only around a change: most periods need none
        if period not in cards:
            cards[period] = _explain_row(ctx, by_period[period]) if ctx is not None else None
        return cards[period]

    prev = None
    for p in periods:
        r = by_period[p]
        tier, event, risky = r[4], r[6], bool(r[9])
        change = ""
        reasons: tuple[str, ...] = ()
        now_prog = (timeline.program_for(versions, p) if len(versions) > 1 else None) or program
        if prev is not None:
            before_prog = (timeline.program_for(versions, prev[0]) if len(versions) > 1 else None) or program
            if now_prog is not None and before_prog is not None and now_prog is not before_prog:
                # (v2 §3.11) a new version: the old tier read through its map is no move
                change, moved = _version_change(before_prog, now_prog, prev, r, p)
                if moved:  # the move is the line; the new version and its names, the first reason
                    reasons = (_version_words_at(before_prog, now_prog, prev[4], p),)
                if risky != bool(prev[9]):
                    reasons = (*reasons, f"at risk from {p}" if risky else f"no longer at risk in {p}")
                card, before = (card_of(p), card_of(prev[0])) if moved else (None, None)
                if card is not None and before is not None:
                    reasons = (*reasons, *(_requirement_changes(before, card) or _why_tier(card, before, prev, r)))
                lines.append(HistoryLine(p, tier, event, float(r[1]), risky, change, reasons))
                prev = r
                continue
            if tier != prev[4]:
                order = now_prog.tiers if now_prog else []
                up = order.index(tier) > order.index(prev[4]) if tier in order and prev[4] in order else False
                change = f"{'▲' if up else '▼'} {prev[4]} → {tier} in {p}"
            elif risky != bool(prev[9]):
                change = f"! at risk from {p}" if risky else f"no longer at risk in {p}"
            elif event == "grace" and prev[6] != "grace":
                change = f"◆ grace from {p}"
            elif prev[6] == "grace" and event != "grace":
                change = f"✔ meets {tier} again in {p}"
            card, before = (card_of(p), card_of(prev[0])) if change else (None, None)
            if card is not None and before is not None:
                reasons = tuple(_requirement_changes(before, card))
                if not reasons and tier != prev[4]:
                    reasons = tuple(_why_tier(card, before, prev, r))
        lines.append(HistoryLine(p, tier, event, float(r[1]), risky, change, reasons))
        prev = r
    return lines


# --------------------------------------------------------------------------- certifications


def _cert_where(conn, q: CertificationQuery, today: date) -> tuple[str, list]:
    clauses, params = [], []
    if q.track and _unsearchable(q.track):
        clauses.append("1 = 0")
    elif q.track:
        clauses.append("c.track = ?")
        params.append(q.track)
    if _unsearchable(q.partner):
        clauses.append("1 = 0")
    elif q.partner.strip():
        clause, values = _contains(conn, q.partner)
        clauses.append(clause)
        params += values
    if q.status == "active":
        clauses.append("(c.expires_on IS NULL OR c.expires_on >= ?)")
        params.append(_iso(conn, today))
    elif q.status == "expired":
        clauses.append("c.expires_on < ?")
        params.append(_iso(conn, today))
    elif q.status.startswith("expiring"):
        days = int(q.status[len("expiring") :])
        clauses.append("c.expires_on >= ? AND c.expires_on <= ?")
        params += [_iso(conn, today), _iso(conn, today + timedelta(days=days))]
    elif q.status != "all":
        raise ServiceError(f"unknown certification status {q.status!r}; use one of {', '.join(CERT_STATUSES)}")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def certification_ids(
    engine: Engine,
    q: CertificationQuery,
    today: date,
    limit: int | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Ids of the matching certifications: soonest expiry first for expiry filters, else by partner;
    the first ``limit`` of them if given (the same first ids as the whole list: the order is total).

    Both orders follow an index, so the first page comes in milliseconds at 100,000 partners: by
    expiry the certifications' ``expires_on``; by partner the partners' ``partner_id``, each
    partner's certifications (by ``partner_key``) sorted among themselves. ``cancelled``: asked
    between chunks of rows; once it says so, the read stops (what was read so far comes back)."""
    with engine.connect() as conn:
        where, params = _cert_where(conn, q, today)
        if q.status.startswith("expir"):
            order = "c.expires_on, p.partner_id, c.id"
            source = f"certification c JOIN partner p ON p.key = c.partner_key{where}"
        else:
            order = "p.partner_id, c.track, c.person, c.certification, c.earned_on, c.id"
            # partners in id order, the outer loop (SQLite keeps the written order of a CROSS JOIN)
            join = "c.partner_key = p.key"
            source = "partner p CROSS JOIN certification c" + (f"{where} AND {join}" if where else f" WHERE {join}")
        sql = f"SELECT c.id FROM {source} ORDER BY {order}" + ("" if limit is None else f" LIMIT {int(limit)}")
        parts = [np.zeros(0, dtype=np.int64)]
        for rows in queries.fetch_chunks(conn, sql, params):
            parts.append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
            if cancelled is not None and cancelled():
                break
    return np.concatenate(parts)


def certification_rows(engine: Engine, ids: Sequence[int], today: date) -> list[CertificationRow]:
    ids = [int(i) for i in ids]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    with engine.connect() as conn:
        rows = queries.fetchall(
            conn,
            "SELECT c.id, p.partner_id, p.name, c.person, c.certification, c.track, c.earned_on, c.expires_on "
            f"FROM certification c JOIN partner p ON p.key = c.partner_key WHERE c.id IN ({marks})",
            ids,
        )
    out = {}
    for r in rows:
        earned, expires = _day(r[6]), _date(r[7])
        status, days = certification_status(earned, expires, today)
        out[r[0]] = CertificationRow(r[0], r[1], r[2], r[3], r[4], r[5], earned, expires, status, days)
    return [out[i] for i in ids if i in out]


@dataclass(frozen=True)
class LapseRisk:
    """A partner that meets a certification gate of its tier today but not at the next period end."""

    partner_id: str
    name: str
    tier: str
    track: str
    required: float
    now: int
    at_period_end: int
    lapsing: int  # certifications of the track, in its group, expiring before the period end
    # (v2 §3.12) designations held in the latest period that would no longer be met with them
    designations: tuple[str, ...] = ()
    gate: bool = True  # the tier's gate is at risk (False: only designations would be lost)
    designation_words: str = ""  # "Cloud Specialist (kept 1 more period)": a keep-window says so


def _lost_words(program: Program, names: Sequence[str]) -> str:
    keep = {d.name: d.keep_periods for d in program.designations}
    return ", ".join(
        f"{n} (kept {keep[n]} more period{'s' if keep[n] != 1 else ''})" if keep.get(n) else n for n in names
    )


@dataclass
class LapseReport:
    period: str | None  # the next period
    end: date | None
    rows: list[LapseRisk]


def lapse_risk(engine: Engine, today: date) -> LapseReport:
    """Partners who would fall below a certification gate of their earned tier at the next period end
    if the certifications expiring before it lapse (no new ones counted)."""
    program = results_program_or_none(engine)
    latest = latest_period(engine)
    if program is None or latest is None:
        return LapseReport(None, None, [])
    upcoming = next_period(parse_period(latest))
    end = upcoming.end
    tracks = sorted(
        {
            m[len(CERT_PREFIX) :]
            for req in program.requirements.values()
            for rule in req.options()
            for m in rule.gates
            if m.startswith(CERT_PREFIX)
        }
        | _designation_tracks(program)
    )
    if not tracks:
        return LapseReport(upcoming.label, end, [])
    with engine.connect() as conn:
        cols = queries.read_partners(conn)
        certs = queries.read_certifications(conn, tracks)
        earned_rows = queries.fetchall(
            conn, "SELECT partner_key, earned_tier FROM level_result WHERE period = ?", (latest,)
        )
    n = len(cols.key)
    lookup = cols.index_of_keys()
    parent = cols.parent_index()
    person = ev.person_codes(certs.person)
    columns = ev.Certifications(lookup[certs.partner_key], person, certs.track, certs.earned, certs.expires)
    counts = ev.certified_people(columns, tracks, [today, end], parent, n)
    earned = np.full(n, -1, dtype=np.int64)
    index = {t: i for i, t in enumerate(program.tiers)}
    for key, tier in earned_rows:
        if tier in index:
            earned[lookup[key]] = index[tier]
    thresholds = ev.resolve(program, cols.region, cols.partner_type)
    # certifications of each track expiring in (today, end), counted per group
    lapsing_rows = (certs.expires >= today.toordinal()) & (certs.expires < end.toordinal())
    lapsing: dict[str, np.ndarray] = {}
    for t in tracks:
        sel = np.flatnonzero(lapsing_rows & (np.asarray(certs.track, dtype=object) == t))
        rows, groups = ev.ancestors_with_self(lookup[certs.partner_key][sel], parent)
        lapsing[t] = np.bincount(groups, minlength=n) if len(groups) else np.zeros(n, dtype=np.int64)
    found: list[LapseRisk] = []
    for tier_index, th in thresholds.items():
        members = earned == tier_index
        if not members.any():
            continue
        for t in tracks:
            gate = th.gates.get(CERT_PREFIX + t)
            if gate is None:
                continue
            now, later = counts[t][0], counts[t][1]
            hit = np.flatnonzero(members & ~np.isnan(gate) & (now >= gate) & (later < gate))
            for i in hit.tolist():
                found.append(
                    LapseRisk(
                        cols.partner_id[i],
                        cols.name[i],
                        program.tiers[tier_index],
                        t,
                        float(gate[i]),
                        int(now[i]),
                        int(later[i]),
                        int(lapsing[t][i]),
                    )
                )
    found = _with_designations_lost(engine, program, latest, cols, earned, counts, lapsing, found)
    found.sort(key=lambda r: (r.partner_id, r.track))
    return LapseReport(upcoming.label, end, found)


def _designation_tracks(program: Program) -> set[str]:
    """The certification tracks a designation's gates or score components use (v2 §3.12)."""
    return {
        m[len(CERT_PREFIX) :]
        for d in program.designations
        for m in (*d.rule.gates, *d.rule.maxima, *(c.metric for c in d.score))
        if m.startswith(CERT_PREFIX)
    }


def _with_designations_lost(engine, program, latest, cols, earned, counts, lapsing, found) -> list[LapseRisk]:
    """(v2 §3.8, §3.12) ``found`` with, on each partner and track, the designations held in ``latest``
    that the lapses would unmeet (:func:`scoring.scorecard.designations_lost`, on the stored group
    values with the track's people now and at the period end); a row for a partner that would lose
    a designation though its tier's gate holds."""
    tracks = sorted(_designation_tracks(program) & set(counts))
    if not tracks:
        return found
    n = len(cols.key)
    candidates = np.zeros(n, dtype=bool)
    for t in tracks:
        candidates |= counts[t][1] < counts[t][0]
    positions = np.flatnonzero(candidates).tolist()
    if not positions:
        return found
    by_key = {int(cols.key[i]): i for i in positions}
    blobs: dict[int, bytes] = {}
    with engine.connect() as conn:
        order = queries.result_metrics(conn)
        keys = list(by_key)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            blobs.update(
                (int(k), bytes(b))
                for k, b in queries.fetchall(
                    conn,
                    f"SELECT partner_key, group_values FROM level_result WHERE period = ? "
                    f"AND partner_key IN ({','.join('?' * len(chunk))})",
                    [latest, *chunk],
                )
            )
    rows = {(r.partner_id, r.track): r for r in found}
    for key, blob in blobs.items():
        i = by_key[key]
        values = queries.unpack_group_values(blob, order)
        for t in tracks:
            now, later = int(counts[t][0][i]), int(counts[t][1][i])
            if later >= now:
                continue
            metric = CERT_PREFIX + t
            lost = designations_lost(program, {**values, metric: float(now)}, {metric: float(later)})
            if not lost:
                continue
            pid = cols.partner_id[i]
            row = rows.get((pid, t))
            if row is not None:
                rows[(pid, t)] = replace(row, designations=lost, designation_words=_lost_words(program, lost))
            else:
                tier = program.tiers[int(earned[i])] if earned[i] >= 0 else ""
                rows[(pid, t)] = LapseRisk(
                    pid,
                    cols.name[i],
                    tier,
                    t,
                    float("nan"),
                    now,
                    later,
                    int(lapsing[t][i]),
                    lost,
                    gate=False,
                    designation_words=_lost_words(program, lost),
                )
    return list(rows.values())


# --------------------------------------------------------------------------- overrides queue


def partners_by_id(engine: Engine, partner_ids: Sequence[str], period: str | None) -> list[PartnerRow]:
    """Rows for the given partner ids (unknown ids are skipped), in the order given."""
    ids = [i for i in dict.fromkeys(partner_ids) if not _unsearchable(i)]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    with engine.connect() as conn:
        keys = dict(queries.fetchall(conn, f"SELECT partner_id, key FROM partner WHERE partner_id IN ({marks})", ids))
    return partner_rows(engine, [keys[i] for i in ids if i in keys], period)


# --------------------------------------------------------------------------- the reader


class EngineReader:
    """The reads of :class:`tiertui.services.read.Reader` through the engine (``engine()`` gives it,
    opening it if need be)."""

    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def levelled_periods(self) -> list[str]:
        return levelled_periods(self._engine())

    def latest_period(self) -> str | None:
        return latest_period(self._engine())

    def program(self) -> Program | None:
        return program_or_none(self._engine())

    def program_heading(self) -> ProgramHeading | None:
        program = self.program()
        return ProgramHeading(program.name, program.tiers) if program else None

    def partner_keys(self, q: PartnerQuery, tiers: Sequence[str] = (), limit: int | None = None) -> list[int]:
        return partner_keys(self._engine(), q, limit=limit, tiers=tiers).tolist()

    def partner_key_chunks(self, q: PartnerQuery, tiers: Sequence[str] = (), first: int = 100) -> Iterator[list[int]]:
        yield self.partner_keys(q, tiers)

    def first_partner_keys(self, q: PartnerQuery, limit: int, within: float) -> tuple[str | None, list[int]] | None:
        return None  # through the engine: always in a thread

    def partner_rows(self, keys: Sequence[int], period: str | None) -> list[PartnerRow]:
        return partner_rows(self._engine(), keys, period)

    def partner_search_texts(self) -> dict[int, str]:
        return partner_search_texts(self._engine())

    def partner_find_texts(self) -> dict[int, str]:
        with self._engine().connect() as conn:
            return statements.find_texts(_fetch(conn))

    def filter_choices(self, *, tracks: bool = True) -> FilterChoices:
        return filter_choices(self._engine(), tracks=tracks)

    def dashboard(self, today: date) -> Dashboard:
        return dashboard(self._engine(), today)

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- every partner's words


@dataclass(frozen=True)
class Sentences:
    """One partner's scorecard in plain words, for exports: the next tier, its gap, the risks."""

    next_tier: str | None
    gap: tuple[str, ...]
    at_risk: tuple[str, ...]


def period_sentences(engine: Engine, period: str) -> dict[str, Sentences]:
    """partner_id -> the gap and at-risk sentences of its stored result for ``period``: the same
    :func:`explain`, sources and lapsing as :func:`partner_scorecard`, read in bulk."""
    program = results_program_or_none(engine)
    if program is None:
        return {}
    versions = timeline.programs(engine)
    if len(versions) > 1:  # (v2 §3.11) the version in force at the period's end explains it
        program = timeline.program_for(versions, period) or program
    with engine.connect() as conn:
        partners = queries.fetchall(conn, "SELECT key, partner_id, region, partner_type FROM partner")
        results = queries.fetchall(
            conn, f"SELECT partner_key, {_RESULT_COLUMNS} FROM level_result WHERE period = ?", (period,)
        )
        metric_order = queries.result_metrics(conn)
        periods = [p.label for p in sorted(parse_period(x) for x in statements.levelled_periods(_fetch(conn)))]
        upto = periods[: periods.index(period) + 1] if period in periods else [period]
        declared = [m for m in program.used_metrics() if m in program.metrics]
        reported: dict[int, dict[str, set[str]]] = {}
        if declared:
            rows = queries.fetchall(
                conn,
                f"SELECT partner_key, metric, period FROM metric_value WHERE period IN ({','.join('?' * len(upto))}) "
                f"AND metric IN ({','.join('?' * len(declared))})",
                [*upto, *declared],
            )
            for key, metric, per in rows:
                reported.setdefault(key, {}).setdefault(metric, set()).add(per)
        certifications = GroupCertifications.read(conn, program)
    by_key = {int(p[0]): p for p in partners}
    out: dict[str, Sentences] = {}
    for r in results:
        partner = by_key.get(int(r[0]))
        if partner is None:
            continue
        key, pid, region, ptype = partner
        ctx_reported = reported.get(int(key), {})
        tiers = program.tiers
        row = r[1:]
        if not (all(t in tiers for t in (row[3], row[4])) and row[6] in EVENTS):
            continue
        card = explain(
            program,
            region or "",
            ptype or "",
            queries.unpack_group_values(row[8], metric_order),
            period,
            tiers.index(row[3]),
            EVENTS.index(row[6]),
            int(row[7]),
            tiers.index(row[4]),
            row[5],
            sources=own_sources(program, upto, ctx_reported, period),
            lapsing=certifications.lapsing(int(key), period),
        )
        gap = card.gap
        out[pid] = Sentences(
            gap.tier if gap is not None else None,
            tuple(gap.texts()) if gap is not None else (),
            tuple(x.text for x in card.risks),
        )
    return out


# --------------------------------------------------------------------------- dashboard: data and tier mix


@dataclass(frozen=True)
class MixPeriod:
    """One period of the tier mix: partners per effective tier, promotions and demotions."""

    period: str
    tiers: dict[str, int]
    promoted: int
    demoted: int


@dataclass(frozen=True)
class DashboardData:
    """What the dashboard reads with the engine after its first figures: completeness of the latest
    period (and whether it looks partial), staleness, and the tier mix over the periods."""

    tiers: tuple[str, ...]
    mix: list[MixPeriod]
    status: object | None  # services.status.Status, None when no program is loaded
    stale: tuple | None  # staleness.stale_since


def tier_mix(engine: Engine, program: Program | None = None) -> list[MixPeriod]:
    """Partners per effective tier in each period, each tier named as ``program`` (the latest version)
    names it: a period of an earlier version counts its partners under their carried names (v2 §3.11:
    Authorized under Registered), so a program change is no drop to zero in the chart."""
    with engine.connect() as conn:
        rows = queries.fetchall(
            conn,
            "SELECT period, effective_tier, event, COUNT(*) FROM level_result GROUP BY period, effective_tier, event",
        )
    by: dict[str, MixPeriod] = {}
    for period, tier, event, count in rows:
        mix = by.setdefault(period, MixPeriod(period, {}, 0, 0))
        if program is not None and tier is not None:
            tier = program.carried_tier(tier) or tier
        mix.tiers[tier] = mix.tiers.get(tier, 0) + int(count)
        if event in ("promoted", "demoted"):
            by[period] = MixPeriod(
                period,
                mix.tiers,
                mix.promoted + (int(count) if event == "promoted" else 0),
                mix.demoted + (int(count) if event == "demoted" else 0),
            )
    return [by[p.label] for p in sorted(parse_period(x) for x in by)]


def dashboard_data(engine: Engine) -> DashboardData:
    from ..staleness import stale_since
    from ..status import read_status

    program = results_program_or_none(engine)
    status = None
    if program_or_none(engine) is not None:
        try:
            status = read_status(engine)
        except ServiceError:
            status = None
    return DashboardData(program.tiers if program else (), tier_mix(engine, program), status, stale_since(engine))
