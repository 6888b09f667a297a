"""Partner-facing scorecards (issue 15): one self-contained HTML page per partner, and an index.

A page holds only what the partner may read about itself: tier and badges, the score and each
component, the requirements of its tier and the next, the gap and what would close it, at-risk
reasons, certifications expiring soon, the benefits of its tier and the next, and its history as
an inline SVG chart, marked "provisional" when the period is not published (spec §3.13). Every
number and sentence comes from ``scoring.explain``: the very rules the levelling ran. Internal
data (account manager notes, override reasons, other partners) is never passed to the partner's
template at all, so no template, shipped or overridden, can show it.

Templates are Jinja2 files shipped in ``tiertui/templates``; a file of the same name in
``<user config folder>/templates`` (``~/.config/tiertui/templates`` on Linux) replaces it.
Autoescaping is on, and every value from data is made visible (control characters as escapes)
before it is escaped.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import platformdirs
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy.engine import Connection, Engine

from ..safe_text import visible
from ..scoring import EVENTS, PeriodError, Program, Scorecard, explain, fmt, parse_period, score_text, value_text
from ..scoring.numbers import number_text
from ..scoring.periods import Period
from ..scoring.program import Benefits
from ..storage import queries
from . import publishing, timeline
from .errors import ServiceError
from .group_certifications import GroupCertifications, LapsingCertification

Progress = Callable[[int, int], None]
EXPIRING_DAYS = 90  # certifications expiring within this many days of the report date are listed

EVENT_WORDS = {
    "promoted": "Promoted this period",
    "held": "Kept its tier",
    "grace": "Kept its tier in a grace period",
    "demoted": "Moved down this period",
    "protected": "Kept its tier (protected during the program change)",
}


def templates_folder() -> Path:
    """Where a team's own templates go: a file here replaces the shipped one of the same name."""
    return Path(platformdirs.user_config_dir("tiertui", appauthor=False)) / "templates"


def _finalize(value: object) -> object:
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return visible(value)


def environment(folder: Path | None = None) -> Environment:
    """The Jinja2 environment: the user's templates first, then the shipped ones; autoescaped."""
    env = Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(str(folder or templates_folder())), PackageLoader("tiertui", "templates")]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = fmt
    return env


# --------------------------------------------------------------------------- what a page shows


@dataclass(frozen=True)
class Line:
    """One line of the page: ``text`` in plain words, ``ok`` True/False (met or not) or None."""

    text: str
    ok: bool | None = None


@dataclass(frozen=True)
class ComponentView:
    label: str
    value: str  # with unit
    points: str
    max_points: str
    share: float  # 0..1, for the bar


@dataclass(frozen=True)
class BenefitView:
    tier: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class CertificationView:
    person: str
    certification: str
    expires_on: date
    days_left: int


@dataclass(frozen=True)
class LapseView:
    """A lapse risk (spec v2 §3.8) in a partner's words: the requirement of its tier that
    certifications expiring before the next period ends would break, and those certifications."""

    tier: str
    requirement: str  # "Certified people (UC)"
    required: str  # the gate, "3"
    now: str  # counted at the period's end, "3"
    would_be: str  # left at the next period's end unless renewed, "1"
    next_period: str
    certifications: tuple[LapsingCertification, ...]


@dataclass(frozen=True)
class HistoryPoint:
    period: str
    tier: str
    score: float


@dataclass
class PartnerPage:
    """Everything a partner's page shows, and nothing internal."""

    partner_id: str
    name: str
    period: str
    program: str
    provisional: bool
    tier: str
    event: str
    badges: tuple[str, ...]
    score: str
    max_score: str
    components: list[ComponentView]
    requirements: dict[str, list[Line]]  # tier -> its requirements, met or not (this tier and the next)
    next_tier: str | None
    gap: list[str]  # what would close the gap to the next tier, in plain words
    gap_closed: bool
    at_risk: bool
    risks: list[str]
    lapses: list[LapseView]  # the detail of each lapse risk among ``risks``
    expiring: list[CertificationView]
    benefits: list[BenefitView]
    history: list[HistoryPoint]
    today: date
    file_name: str = ""
    # for the team's index only, never on the partner's page
    account_manager: str = field(default="", repr=False)

    @property
    def chart(self) -> Markup:
        return history_chart(self.history, self.tier_order)

    tier_order: tuple[str, ...] = ()


def _benefit_lines(b: Benefits) -> tuple[str, ...]:
    lines = []
    if b.discount:
        lines.append(f"{b.discount * 100:g} % discount")
    if b.rebate:
        lines.append(f"{b.rebate * 100:g} % rebate")
    if b.mdf:
        lines.append(f"{b.mdf * 100:g} % of revenue as marketing development funds")
    return tuple(lines) or ("No listed benefits",)


def page_of(
    program: Program,
    card: Scorecard,
    partner_id: str,
    name: str,
    provisional: bool,
    history: Sequence[HistoryPoint],
    expiring: Sequence[CertificationView],
    today: date,
    lapsing: Callable[[str, list], list[LapsingCertification]] | None = None,
) -> PartnerPage:
    """A partner's page from its scorecard (``scoring.explain``): no number is computed here."""
    tiers = program.tiers
    effective = card.effective
    components = [
        ComponentView(
            c.label,
            value_text(c.value, c.unit) + (f" ({c.note})" if c.note else ""),
            score_text(c.points),
            fmt(c.max_points),
            0.0 if not c.max_points else max(0.0, min(1.0, c.points / c.max_points)),
        )
        for c in card.components
    ]
    requirements: dict[str, list[Line]] = {}
    for check in card.checks:
        requirements.setdefault(check.tier, []).append(Line(check.describe(), check.met))
    i = tiers.index(card.earned)
    next_tier = tiers[i + 1] if i + 1 < len(tiers) else None
    for t in (card.earned, next_tier):
        if t is not None and t not in requirements and t != tiers[0]:
            requirements[t] = []
    benefits = [
        BenefitView(t, _benefit_lines(program.benefits[t]))
        for t in dict.fromkeys((effective, next_tier))
        if t is not None and t in program.benefits
    ]
    return PartnerPage(
        partner_id=partner_id,
        name=name,
        period=card.period,
        program=program.name,
        provisional=provisional,
        tier=effective,
        event=EVENT_WORDS.get(card.event, card.event),
        badges=card.badges,
        score=card.score_text,
        max_score=fmt(card.max_score),
        components=components,
        requirements=requirements,
        next_tier=next_tier,
        gap=card.gap.texts() if card.gap is not None else [],
        gap_closed=card.gap is not None and card.gap.closed,
        at_risk=card.at_risk,
        risks=list(card.at_risk_reasons),
        lapses=[
            LapseView(
                r.tier,
                r.label,
                number_text(r.threshold),
                number_text(r.value),
                number_text(r.remaining if r.remaining is not None else r.value),
                r.next_period,
                tuple(lapsing(r.metric, list(r.lapsing)) if lapsing else ()),
            )
            for r in card.risks
            if r.kind == "lapse"
        ],
        expiring=list(expiring),
        benefits=benefits,
        history=list(history),
        today=today,
        tier_order=tiers,
    )


# --------------------------------------------------------------------------- the history chart


def history_chart(points: Sequence[HistoryPoint], tiers: Sequence[str]) -> Markup:
    """An inline SVG: one bar per period, its height the tier, its label the tier and score.

    Built from numbers and escaped text only; a fixed viewBox, so it scales to the page width.
    """
    if not points:
        return Markup("")
    shown = list(points)[-12:]
    width, height, left, top, bottom = 640, 200, 90, 16, 40
    plot_h = height - top - bottom
    step = (width - left - 10) / len(shown)
    bar = min(48.0, step * 0.6)
    levels = max(1, len(tiers))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Tier and score by period" class="chart">'
    ]
    for k, tier in enumerate(tiers):
        y = top + plot_h - (k + 1) * plot_h / levels
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{escape(visible(tier))}</text>'
        )
    for j, p in enumerate(shown):
        level = tiers.index(p.tier) + 1 if p.tier in tiers else 1
        h = level * plot_h / levels
        x = left + j * step + (step - bar) / 2
        y = top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" class="tierbar"><title>'
            f"{escape(visible(p.period))}: {escape(visible(p.tier))}, score {score_text(p.score)}</title></rect>"
            f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" class="score">{score_text(p.score)}</text>'
            f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" class="axis">'
            f"{escape(visible(p.period))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


# --------------------------------------------------------------------------- reading in bulk


def file_name_for(partner_id: str, taken: set[str]) -> str:
    """A safe file name for a partner's page: its id when that is a plain name, else a cleaned id
    with a short hash (ids may hold slashes, dots, quotes or anything else)."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", partner_id)[:60] or "partner"
    name = clean
    if clean != partner_id or clean.lower() in taken or clean.lower() == "index":
        name = f"{clean}-{hashlib.sha1(partner_id.encode()).hexdigest()[:10]}"
    taken.add(name.lower())
    return f"{name}.html"


def _label(period: str) -> str:
    try:
        return parse_period(period).label
    except PeriodError as exc:
        raise ServiceError(str(exc)) from None


def _iso(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _prepare(
    engine: Engine,
    period: str,
    partner_id: str | None = None,
    today: date | None = None,
    only: set[str] | None = None,
) -> _Batch:
    from .read.engine import results_program_or_none

    label = _label(period)
    today = today or date.today()
    program = results_program_or_none(engine)
    if program is None:
        raise ServiceError("no program is loaded: run tiertui program load FILE.toml, then tiertui level")
    with engine.connect() as conn:
        published = publishing.published_set(conn)
        where, params = "", [label]
        if partner_id is not None:
            where, params = " AND p.partner_id = ?", [label, partner_id]
        rows = queries.fetchall(
            conn,
            "SELECT p.key, p.partner_id, p.name, p.region, p.partner_type, p.account_manager, r.earned_tier, "
            "r.effective_tier, r.override_id, r.event, r.below, r.group_values FROM level_result r "
            "JOIN partner p ON p.key = r.partner_key WHERE r.period = ?" + where + " ORDER BY p.partner_id",
            params,
        )
        if not rows:
            if partner_id is not None:
                raise ServiceError(f"partner {partner_id!r} has no result for {label} (is it levelled?)")
            raise ServiceError(f"no results for {label}: run tiertui level first")
        names: dict[str, str] = {}
        taken: set[str] = set()
        for r in rows:  # every partner's file name, so that a page's name never depends on the selection
            names[r[1]] = file_name_for(r[1], taken)
        if only is not None:
            rows = [r for r in rows if r[1] in only]
        few = [r[0] for r in rows] if partner_id is not None or only is not None else None
        metric_order = queries.result_metrics(conn)
        history = _history(conn, few, label)
        expiring = _expiring(conn, few, today)
        versions = timeline.programs(conn)
        if len(versions) > 1:  # (v2 §3.11) the version in force at the period's end explains it
            program = timeline.program_for(versions, label) or program
        certifications = GroupCertifications.read(conn, program, few)
    batch = _Batch(
        program,
        label,
        label not in published,
        today,
        metric_order,
        names,
        history,
        expiring,
        certifications,
        [r for r in rows if r[6] in program.tiers and r[7] in program.tiers and r[9] in EVENTS],  # else: level again
    )
    return batch


def iter_pages(
    engine: Engine,
    period: str,
    partner_id: str | None = None,
    today: date | None = None,
    only: set[str] | None = None,
) -> tuple[Program, int, Iterator[PartnerPage]]:
    """(program, how many pages, the pages one at a time) of every partner (or one, or ``only``
    those) for ``period``, read in a few bulk queries; a page is built when it is asked for, so
    100,000 of them never sit in memory at once."""
    batch = _prepare(engine, period, partner_id, today, only)
    return batch.program, len(batch.rows), (batch.page(r) for r in batch.rows)


@dataclass
class _Batch:
    """What building the pages of one period needs, read once."""

    program: Program
    label: str
    provisional: bool
    today: date
    metric_order: list[str]
    names: dict[str, str]
    history: dict[int, list[HistoryPoint]]
    expiring: dict[int, list[CertificationView]]
    certifications: GroupCertifications
    rows: list[tuple]

    def page(self, row: tuple) -> PartnerPage:
        key, pid, name, region, ptype, manager, earned, effective, oid, event, below, blob = row
        tiers = self.program.tiers
        card = explain(
            self.program,
            region or "",
            ptype or "",
            queries.unpack_group_values(blob, self.metric_order),
            self.label,
            tiers.index(earned),
            EVENTS.index(event),
            int(below),
            tiers.index(effective),
            oid,
            lapsing=self.certifications.lapsing(key, self.label),
        )
        page = page_of(
            self.program,
            card,
            pid,
            name,
            self.provisional,
            self.history.get(key, []),
            self.expiring.get(key, []),
            self.today,
            lambda metric, people: self.certifications.certifications(key, metric, self.label, people),
        )
        page.file_name = self.names[pid]
        page.account_manager = manager or ""
        return page


def build_pages(
    engine: Engine, period: str, partner_id: str | None = None, today: date | None = None
) -> tuple[Program, list[PartnerPage]]:
    """Every page at once (a few partners; :func:`iter_pages` for many)."""
    program, _total, pages = iter_pages(engine, period, partner_id, today)
    return program, list(pages)


@dataclass(frozen=True)
class IndexEntry:
    """What the team's index lists of a partner."""

    partner_id: str
    name: str
    tier: str
    account_manager: str
    at_risk: bool
    file_name: str
    period: str
    provisional: bool


def _history(conn: Connection, keys: list[int] | None, upto: str) -> dict[int, list[HistoryPoint]]:
    sql = "SELECT partner_key, period, effective_tier, score FROM level_result"
    params: list = []
    if keys is not None:
        sql += f" WHERE partner_key IN ({','.join('?' * len(keys))})"
        params = list(keys)
    end = parse_period(upto)
    out: dict[int, list[HistoryPoint]] = defaultdict(list)
    order: dict[str, Period] = {}
    for key, period, tier, score in queries.fetchall(conn, sql, params):
        if period not in order:
            order[period] = parse_period(period)
        if order[period] <= end:
            out[key].append(HistoryPoint(period, tier, float(score)))
    for points in out.values():
        points.sort(key=lambda p: order[p.period])
    return out


def _expiring(conn: Connection, keys: list[int] | None, today: date) -> dict[int, list[CertificationView]]:
    last = today + timedelta(days=EXPIRING_DAYS)
    sql = (
        "SELECT partner_key, person, certification, expires_on FROM certification "
        "WHERE expires_on >= ? AND expires_on <= ?"
    )
    iso = (lambda d: d) if conn.dialect.name != "sqlite" else (lambda d: d.isoformat())
    params: list = [iso(today), iso(last)]
    if keys is not None:
        sql += f" AND partner_key IN ({','.join('?' * len(keys))})"
        params += keys
    out: dict[int, list[CertificationView]] = defaultdict(list)
    for key, person, cert, expires in queries.fetchall(conn, sql + " ORDER BY expires_on, person", params):
        when = _iso(expires)
        assert when is not None
        out[key].append(CertificationView(person, cert, when, (when - today).days))
    return out


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class ReportResult:
    folder: Path
    pages: int
    period: str
    provisional: bool
    index: Path | None
    page: Path | None = None  # the last page written (with --partner: that partner's)

    def text(self) -> str:
        state = "provisional: not published" if self.provisional else "published"
        where = f"; the team's index: {self.index}" if self.index else ""
        return f"Wrote {self.pages:,} partner scorecard{'s' if self.pages != 1 else ''} for {self.period} ({state}) to {self.folder}{where}"


def render_page(env: Environment, page: PartnerPage) -> str:
    return env.get_template("scorecard.html.j2").render(page=page)


def render_index(env: Environment, program: Program, period: str, pages: Sequence[IndexEntry]) -> str:
    by_tier: dict[str, dict[str, list[IndexEntry]]] = {}
    for tier in reversed(program.tiers):
        by_tier[tier] = {}
    for page in pages:
        by_tier.setdefault(page.tier, {}).setdefault(page.account_manager or "(no account manager)", []).append(page)
    groups = [
        (tier, [(m, sorted(ps, key=lambda p: p.name.casefold())) for m, ps in sorted(managers.items())])
        for tier, managers in by_tier.items()
        if managers
    ]
    provisional = bool(pages) and pages[0].provisional
    return env.get_template("index.html.j2").render(
        program=program.name, period=period, groups=groups, total=len(pages), provisional=provisional
    )


def write_report(
    engine: Engine,
    period: str,
    out: str | Path,
    partner_id: str | None = None,
    today: date | None = None,
    progress: Progress | None = None,
    env: Environment | None = None,
) -> ReportResult:
    """Write the partner pages (and, for every partner, the team's ``index.html``) into ``out``."""
    from .exports import refuse_database_path

    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ServiceError(f"{folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    refuse_database_path(engine, folder / "index.html")
    batch = _prepare(engine, period, partner_id, today)
    env = env or environment()
    database = _database_files(engine)
    total = len(batch.rows)
    entries: list[IndexEntry] = []
    workers = min(PROCESSES, os.cpu_count() or 1)
    if total >= PARALLEL_FROM and workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        global _WORK
        _WORK = (batch, env, folder, database)
        chunks = [(i, min(i + CHUNK, total)) for i in range(0, total, CHUNK)]
        try:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                for part in pool.imap(_write_chunk, chunks):
                    entries += part
                    if progress:
                        progress(len(entries), total)
        finally:
            _WORK = None
    else:
        for n, row in enumerate(batch.rows):
            entries.append(_write_page(batch.page(row), env, folder, database))
            if progress and n % 200 == 0:
                progress(n, total)
    target = folder / entries[-1].file_name if entries else None
    program = batch.program
    index = None
    if partner_id is None:
        index = folder / "index.html"
        index.write_text(render_index(env, program, _label(period), entries), encoding="utf-8")
    if progress:
        progress(total, total)
    provisional = entries[0].provisional if entries else True
    return ReportResult(folder, len(entries), _label(period), provisional, index, target)


PROCESSES = 4  # at most this many processes write pages (no more than the machine has cores)
PARALLEL_FROM = 2000  # pages; fewer are written in this process
CHUNK = 500  # pages per task
_WORK: tuple[_Batch, Environment, Path, tuple[Path, ...]] | None = None  # set in the parent, read after fork


def _write_chunk(bounds: tuple[int, int]) -> list[IndexEntry]:
    assert _WORK is not None
    batch, env, folder, database = _WORK
    return [_write_page(batch.page(row), env, folder, database) for row in batch.rows[bounds[0] : bounds[1]]]


def _write_page(page: PartnerPage, env: Environment, folder: Path, database: tuple[Path, ...]) -> IndexEntry:
    target = folder / page.file_name
    if target.exists() and any(d.exists() and os.path.samefile(target, d) for d in database):
        raise ServiceError(f"refusing to write to {target}: it is the database in use; choose another folder")
    target.write_text(render_page(env, page), encoding="utf-8")
    return IndexEntry(
        page.partner_id,
        page.name,
        page.tier,
        page.account_manager,
        page.at_risk,
        page.file_name,
        page.period,
        page.provisional,
    )


def _database_files(engine: Engine) -> tuple[Path, ...]:
    """The SQLite database's files (the file, -wal, -shm, -journal); none for PostgreSQL."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return ()
    base = Path(engine.url.database).expanduser()
    return tuple(Path(f"{base}{suffix}") for suffix in ("", "-wal", "-shm", "-journal"))


def pages_for(engine: Engine, period: str, partner_ids: Iterable[str]) -> tuple[Program, Iterator[PartnerPage]]:
    """The pages of some partners, one at a time (notifications attach them)."""
    program, _total, pages = iter_pages(engine, period, only=set(partner_ids))
    return program, pages


def app_folder(period: str) -> Path:
    """Where the app writes a partner's page: ``<user data folder>/scorecards/<period>``."""
    return Path(platformdirs.user_data_dir("tiertui", appauthor=False)) / "scorecards" / _label(period)


def results_program(engine: Engine) -> Program:
    """The program that made the stored results (its name heads messages and pages)."""
    from .read.engine import results_program_or_none

    program = results_program_or_none(engine)
    if program is None:
        raise ServiceError("no program is loaded: run tiertui program load FILE.toml, then tiertui level")
    return program
