"""Levelling runs: read every input once, evaluate with the scoring module, store results."""

from __future__ import annotations

import gc
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from ..scoring import (
    EVENTS,
    ApprovedOverride,
    Certifications,
    EvaluationError,
    Inputs,
    Partners,
    PeriodError,
    PeriodResult,
    Program,
    level,
    level_timeline,
    parse_period,
)
from ..scoring.evaluate import person_key
from ..scoring.program import CERT_PREFIX
from ..storage import queries
from ..storage.tables import LevelRun, ProgramVersion, utcnow
from . import audit, roles, staleness, timeline
from .errors import ServiceError
from .programs import active_version
from .unit_of_work import UnitOfWork, using

Progress = Callable[[float, str], None]


def _quiet(_fraction: float, _message: str) -> None:
    pass


@dataclass
class LoadedInputs:
    """Everything one evaluation needs, read once: used by levelling and scenarios alike."""

    program: Program
    partners: queries.PartnerColumns
    inputs: Inputs
    timeline: list[Program] = field(default_factory=list)  # (v2 §3.11) the versions in force; empty: program alone

    @property
    def versions(self) -> list[Program]:
        return self.timeline or [self.program]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while the inputs are read: millions of row tuples (acyclic,
    freed as they are turned into arrays) made it run its full collections again and again, each
    walking every object alive: 0.6 to 0.9 s of a 2 s read of 715,000 certifications."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@_collector_paused()  # the reading makes millions of row tuples: see _collector_paused
def load_inputs(
    source: Engine | Connection,
    program: Program,
    progress: Progress = _quiet,
    subset: np.ndarray | None = None,
    partners: queries.PartnerColumns | None = None,
    restricted: tuple[queries.PartnerColumns, np.ndarray] | None = None,
    *,
    versions: list[Program] | None = None,
    extra_metrics: Sequence[str] = (),
    extra_tracks: Sequence[str] = (),
) -> LoadedInputs:
    """Read every input of an evaluation; with ``subset``, only those partners' (positions in the
    partners ordered by id; closed under descendants, so their group values are exact).

    ``partners``: every partner's columns when the caller has just read them. ``restricted``: the
    columns of the partners to evaluate and their parents' positions among them, already read
    (a set closed under descendants, as ``subset``).

    (v2 §3.11) ``versions``: the timeline of versions in force; every input any of them reads is
    read, tiers on record and overrides are passed by name (read by each period's version).
    ``extra_metrics``/``extra_tracks``: read too (a what-if that reads more).
    """
    if isinstance(source, Engine):
        with source.connect() as conn:
            return load_inputs(
                conn,
                program,
                progress,
                subset,
                partners,
                restricted,
                versions=versions,
                extra_metrics=extra_metrics,
                extra_tracks=extra_tracks,
            )
    conn = source
    progress(0.0, "reading partners")
    if restricted is not None:
        cols, parent = restricted
    else:
        cols = partners if partners is not None else queries.read_partners(conn)
        if subset is not None:
            cols, parent = _restrict(cols, subset)
        else:
            parent = cols.parent_index()
    lookup = cols.index_of_keys()
    n = len(cols.key)
    tier_on_record = np.zeros(n, dtype=np.int64)
    record_names = None
    if versions:  # (v2 §3.11) read by the first version evaluated, through its map
        record_names = [t or "" for t in cols.tier]
    else:
        tiers = {t: i for i, t in enumerate(program.tiers)}
        for i, tier in enumerate(cols.tier):
            if tier:
                if tier not in tiers:
                    raise ServiceError(
                        f"partner {cols.partner_id[i]} has tier {tier!r} on record, which program "
                        f"{program.name!r} does not have (tiers: {', '.join(program.tiers)})"
                    )
                tier_on_record[i] = tiers[tier]
    try:
        periods = sorted(parse_period(p) for p in queries.read_periods(conn))
    except PeriodError as exc:
        raise ServiceError(f"stored metrics: {exc}") from None
    keys = cols.key if subset is not None or restricted is not None else None
    reads = list(dict.fromkeys(m for p in (versions or [program]) for m in p.input_metrics()))
    used = list(dict.fromkeys([*(m for m in reads if not m.startswith(CERT_PREFIX)), *extra_metrics]))
    progress(0.05, "reading metrics")
    columns = queries.read_metrics(conn, used, keys, lambda f: progress(0.05 + 0.45 * f, "reading metrics"))
    progress(0.5, "reading certifications")
    tracks = list(dict.fromkeys([*(m[len(CERT_PREFIX) :] for m in reads if m.startswith(CERT_PREFIX)), *extra_tracks]))
    certs = queries.read_certifications(conn, tracks, keys)
    # a person is the text trimmed and case-folded (§3.2): normalise each distinct text once
    person_codes: dict[str, int] = {}
    code_of = {raw: person_codes.setdefault(person_key(raw), len(person_codes)) for raw in dict.fromkeys(certs.person)}
    person = np.fromiter(map(code_of.__getitem__, certs.person), dtype=np.int64, count=len(certs.person))
    overrides = _approved_overrides(conn, program, lookup, named=bool(versions))
    metrics = {m: np.zeros((len(periods), n)) for m in used}
    row_of = {p.label: k for k, p in enumerate(periods)}
    reported = {m: np.zeros((len(periods), n), dtype=bool) for m in used}  # §3.1: a stored row is reported
    for (period, metric), (mkeys, values) in columns.items():
        metrics[metric][row_of[period], lookup[mkeys]] = values
        reported[metric][row_of[period], lookup[mkeys]] = True
    inputs = Inputs(
        partners=Partners(cols.partner_id, cols.region, cols.partner_type, parent, tier_on_record, record_names),
        periods=periods,
        metrics=metrics,
        certifications=Certifications(
            lookup[certs.partner_key], person, certs.track, certs.earned, certs.expires, certs.person
        ),
        overrides=overrides,
        reported=reported,
    )
    return LoadedInputs(program, cols, inputs, list(versions or []))


def _restrict(cols: queries.PartnerColumns, subset: np.ndarray) -> tuple[queries.PartnerColumns, np.ndarray]:
    """The columns of the partners at ``subset`` (sorted positions), and their parents among them.

    A parent outside the subset becomes -1: the subset is closed under descendants, so every
    group lies inside it and the parent above it plays no part in its members' values.
    """
    full_parent = cols.parent_index()
    position = np.full(len(cols.key), -1, dtype=np.int64)
    position[subset] = np.arange(len(subset))
    parent = full_parent[subset]
    parent = np.where(parent >= 0, position[np.maximum(parent, 0)], -1)
    pick = subset.tolist()
    restricted = queries.PartnerColumns(
        cols.key[subset],
        [cols.partner_id[i] for i in pick],
        [cols.name[i] for i in pick],
        [cols.region[i] for i in pick],
        [cols.partner_type[i] for i in pick],
        [cols.parent_id[i] for i in pick],
        [cols.tier[i] for i in pick],
    )
    return restricted, parent


def _approved_overrides(
    conn, program: Program, lookup: np.ndarray, partner_key: int | None = None, named: bool = False
) -> list[ApprovedOverride]:
    """Approved overrides; ``named`` (a timeline, v2 §3.11): by tier name, each period's version
    reads it through its map (and ignores a tier it does not have)."""
    sql = "SELECT id, partner_key, tier, starts_on, expires_on, decided_at FROM tier_override WHERE status = 'approved'"
    params: tuple = ()
    if partner_key is not None:
        sql, params = sql + " AND partner_key = ?", (partner_key,)
    rows = queries.fetchall(conn, sql, params)
    result = []
    for oid, key, tier, starts, expires, decided in rows:
        if key >= len(lookup) or lookup[key] < 0:
            continue
        if not named and tier not in program.tiers:
            continue  # an override for a tier the active program no longer has cannot apply
        result.append(
            ApprovedOverride(
                id=oid,
                partner=int(lookup[key]),
                tier=program.tier_index(tier) if tier in program.tiers else 0,
                starts_on=_date(starts),
                expires_on=_date(expires) if expires else None,
                order=(str(decided), oid),
                tier_name=tier if named else None,
            )
        )
    return result


def _date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


@dataclass
class LevelSummary:
    program: str
    version: int
    partners: int
    periods: list[str]
    tiers: dict[str, int] = field(default_factory=dict)  # effective tier counts, latest period
    events: dict[str, int] = field(default_factory=dict)  # latest period
    at_risk: int = 0
    overridden: int = 0

    def text(self) -> str:
        if not self.periods:
            return f"Levelled {self.partners:,} partners: no metrics imported yet, nothing to evaluate."
        lines = [
            f"Levelled {self.partners:,} partners over {len(self.periods)} period"
            f"{'s' if len(self.periods) != 1 else ''} ({self.periods[0]} to {self.periods[-1]}) "
            f"with {self.program} v{self.version}.",
            f"Latest period {self.periods[-1]}:",
        ]
        width = max(len(t) for t in self.tiers)
        lines += [f"  {tier:<{width}}  {count:>8,}" for tier, count in reversed(self.tiers.items())]
        lines.append(
            f"  promoted {self.events.get('promoted', 0):,}, demoted {self.events.get('demoted', 0):,}, "
            f"in grace {self.events.get('grace', 0):,}, at risk {self.at_risk:,}, "
            f"overridden {self.overridden:,}"
        )
        return "\n".join(lines)


def evaluate(loaded: LoadedInputs) -> list[PeriodResult]:
    try:
        if loaded.timeline:
            return level_timeline(loaded.timeline, loaded.inputs)
        return level(loaded.program, loaded.inputs)
    except EvaluationError as exc:
        raise ServiceError(str(exc)) from None


def run_levelling(target: Engine | UnitOfWork, user: str, progress: Progress = _quiet) -> LevelSummary:
    """Evaluate every period and replace the stored results, all or nothing (managers and up).

    Reads its inputs and writes its results in ONE transaction (``target``'s, or its own), holding
    the results lock throughout: a concurrent approval or import lands wholly before the run (and
    is included) or wholly after it (and then re-levels what it changes itself).
    """
    with _collector_paused(), using(target) as uow:  # the reading, and the stored digests compared
        return level_all(uow, user, progress)


def level_all(uow: UnitOfWork, user: str, progress: Progress = _quiet, *, why: str = "") -> LevelSummary:
    """The full, idempotent re-level inside ``uow``; clears the stale mark. ``why``: for the audit."""
    assert uow.session is not None
    session = uow.session
    uow.lock_results()
    roles.require(session, user, "manager", "running levelling")
    version = active_version(session)
    if version is None:
        raise ServiceError("no program is loaded: run `tiertui program load FILE.toml` first")
    versions = timeline.programs(session)
    program = versions[-1]
    conn = uow.connection
    loaded = load_inputs(conn, program, progress, versions=versions)
    progress(0.7, "evaluating")
    results = evaluate(loaded)
    progress(0.8, "writing results")
    metrics = timeline.run_metrics(versions)
    assert version.id is not None  # a stored version
    run = LevelRun(
        program_id=version.id,
        run_by=user,
        partners=len(loaded.partners.key),
        periods=",".join(r.period.label for r in results),
        metrics=json.dumps(metrics),
    )
    session.add(run)
    session.flush()
    queries.store_results(uow.connection, _result_rows(program, loaded.partners.key, results, metrics))
    run.finished_at = utcnow()
    summary = summarize(program, version.version, len(loaded.partners.key), results)
    detail = {"why": why} if why else {}
    audit.record(session, user, "level.run", "level_run", run.id, summary=summary.text(), **detail)
    staleness.clear_stale(session)
    session.flush()
    progress(1.0, "done")
    return summary


def summarize(program: Program, version: int, partners: int, results: list[PeriodResult]) -> LevelSummary:
    summary = LevelSummary(program.name, version, partners, [r.period.label for r in results])
    if results:
        last = results[-1]
        program = last.program or program
        summary.program = program.name
        counts = np.bincount(last.effective, minlength=len(program.tiers))
        summary.tiers = {t: int(c) for t, c in zip(program.tiers, counts)}
        events = Counter(np.asarray(EVENTS)[last.event].tolist())
        summary.events = dict(events)
        summary.at_risk = int(last.at_risk.sum())
        summary.overridden = int((last.override >= 0).sum())
    return summary


def _result_rows(program: Program, keys: np.ndarray, results: list[PeriodResult], metrics: list[str] | None = None):
    """A :class:`queries.PeriodRows` per period: digests now, row tuples only when asked for.

    (v2 §3.11) Each period's tiers and badges are its version's; ``metrics`` is the stored order of
    group values (every version's, :func:`timeline.run_metrics`); a metric a version does not
    read is stored as 0 for its periods."""
    events = np.array(EVENTS, dtype=object)
    metrics = program.used_metrics() if metrics is None else metrics
    sources = "".join(dict.fromkeys((r.program or program).source for r in results)) or program.source
    seed = int.from_bytes(hashlib.sha256((sources + json.dumps(metrics)).encode()).digest()[:8], "little")
    for r in results:
        n = len(keys)
        version = r.program or program
        tiers = np.array(version.tiers, dtype=object)
        names = [b.name for b in version.badges]
        zeros = np.zeros(n)
        matrix = np.stack([r.values.get(m, zeros) for m in metrics], axis=1) if metrics else np.zeros((n, 0))
        badge_code = _badge_code(r.badges)
        digest = _digest(seed, matrix, r, badge_code)

        def build(
            positions: np.ndarray, r=r, matrix=matrix, badge_code=badge_code, digest=digest, tiers=tiers, names=names
        ) -> list[tuple]:
            label = r.period.label
            override = [None if o < 0 else o for o in r.override[positions].tolist()]
            badges = _badge_labels(names, badge_code[positions]) if names else [""] * len(positions)
            return list(
                zip(
                    [label] * len(positions),
                    keys[positions].tolist(),
                    r.score[positions].tolist(),
                    tiers[r.qualified[positions]].tolist(),
                    tiers[r.earned[positions]].tolist(),
                    tiers[r.effective[positions]].tolist(),
                    override,
                    events[r.event[positions]].tolist(),
                    r.below[positions].tolist(),
                    r.at_risk[positions].tolist(),
                    badges,
                    queries.pack_group_values(matrix[positions]),
                    digest[positions].tolist(),
                )
            )

        yield queries.PeriodRows(r.period.label, keys, digest, build)


def _badge_code(flags: np.ndarray) -> np.ndarray:
    """Each partner's badges as a bit set (bit i: the program's badge i)."""
    code = np.zeros(flags.shape[1], dtype=np.int64)
    for i, row in enumerate(flags):
        code |= row.astype(np.int64) << i
    return code


_MIX = np.uint64(0x100000001B3)


def _digest(seed: int, matrix: np.ndarray, r: PeriodResult, badge_code: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint of every stored field of each row, so unchanged rows are never rewritten.

    ``seed`` covers the program text and metric order: another program rewrites everything.
    """
    h = np.full(len(badge_code), np.uint64(seed), dtype=np.uint64)
    columns = [
        np.ascontiguousarray(r.score).view(np.uint64),
        r.qualified,
        r.earned,
        r.effective,
        r.override,
        r.event,
        r.below,
        r.at_risk,
        badge_code,
    ]
    columns += [np.ascontiguousarray(matrix[:, j]).view(np.uint64) for j in range(matrix.shape[1])]
    with np.errstate(over="ignore"):
        for column in columns:
            h ^= column.astype(np.int64).view(np.uint64) if column.dtype != np.uint64 else column
            h *= _MIX
            h ^= h >> np.uint64(29)
    return h.view(np.int64)


def _badge_labels(names: list[str], code: np.ndarray) -> list[str]:
    """Each partner's badges, sorted by name and joined by ";" (one label per distinct set)."""
    distinct, position = np.unique(code, return_inverse=True)
    labels = np.array(
        [";".join(sorted(nm for i, nm in enumerate(names) if c >> i & 1)) for c in distinct.tolist()],
        dtype=object,
    )
    return labels[position.reshape(-1)].tolist()


def results_version(engine: Engine) -> ProgramVersion | None:
    """The program version whose levelling run wrote the stored results (None: never levelled)."""
    with Session(engine) as session:
        row = session.exec(
            select(ProgramVersion)
            .join(LevelRun, col(LevelRun.program_id) == ProgramVersion.id)
            .order_by(col(LevelRun.id).desc())
        ).first()
        if row is not None:
            session.expunge(row)
        return row
