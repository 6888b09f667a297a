"""The read side's statements and row builders, as plain SQL over any DB-API connection: no ORM,
no numpy.

This module is light to import (the standard library, :mod:`..errors` and
:mod:`tiertui.scoring.natural` only), so the app can draw its first screens before SQLAlchemy,
SQLModel and numpy are loaded. Each function takes a ``Fetch`` (``sql`` with ``?`` placeholders and
its parameters in, the rows out) and the dialect name; :mod:`.engine` runs them through the engine,
:mod:`.fast` through the standard ``sqlite3`` module on a SQLite file. One statement, one row
builder: both paths give the same. The parsed programs are cached here, once for both
(:func:`parsed_program`).
"""

from __future__ import annotations

import json
import re
import threading
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from ...scoring.natural import fold, natural_sort_key  # stdlib only: light to import
from ..errors import ServiceError

if TYPE_CHECKING:
    from ...scoring import Program

Fetch = Callable[..., list[tuple]]  # fetch(sql, params=()) -> rows


# --------------------------------------------------------------------------- what the lists show


@dataclass(frozen=True)
class PartnerQuery:
    """What the partner list shows: filters, sort and the period the results are from."""

    text: str = ""
    tier: str | None = None
    region: str | None = None
    partner_type: str | None = None
    manager: str | None = None
    at_risk: bool | None = None
    event: str | None = None
    overridden: bool | None = None
    designation: str | None = None  # (v2 §3.12) held in the period shown
    period: str | None = None
    sort: str = "partner_id"
    descending: bool = False


@dataclass(frozen=True)
class PartnerRow:
    key: int
    partner_id: str
    name: str
    region: str
    partner_type: str
    account_manager: str
    tier: str | None
    score: float | None
    event: str | None
    at_risk: bool
    badges: tuple[str, ...]
    overridden: bool
    earned_tier: str | None


@dataclass(frozen=True)
class CertificationQuery:
    track: str | None = None
    partner: str = ""  # id or name contains, case-insensitive
    status: str = "all"


@dataclass
class Dashboard:
    period: str | None
    program: str | None
    tiers: list[tuple[str, int]]  # lowest first, every tier of the program
    partners: int
    promoted: int = 0
    demoted: int = 0
    grace: int = 0
    at_risk: int = 0
    overridden: int = 0
    pending_overrides: int = 0
    expiring_certifications: int = 0  # within 90 days of today
    today: date = field(default_factory=date.today)


@dataclass(frozen=True)
class FilterChoices:
    tiers: tuple[str, ...]
    regions: tuple[str, ...]
    types: tuple[str, ...]
    managers: tuple[str, ...]
    tracks: tuple[str, ...]
    designations: tuple[str, ...] = ()  # (v2 §3.12) those the stored results hold a flag for, sorted


# The list's sorts. Ids and names sort in natural order (P2 before P10, case and accents aside) by
# their stored natural sort keys (tiertui.scoring.natural), which indexes hold in that order.
PARTNER_SORTS = {
    "partner_id": "p.id_sort_key",
    "name": "p.name_sort_key",
    "region": "p.region",
    "partner_type": "p.partner_type",
    "account_manager": "p.account_manager",
    "tier": None,  # by tier rank, built per program
    "score": "r.score",
    "event": "r.event",
    "at_risk": "r.at_risk",
    "badges": "r.badges",
}
# After the sort's column, ties go by the natural id, then the id as written (P2, p2 and P02 share a
# key); the same direction throughout, so an index in that order serves either direction.
PARTNER_TIES = ("p.id_sort_key", "p.partner_id")


# --------------------------------------------------------------------------- text search


def unsearchable(text: str) -> bool:
    """A search text with a NUL character matches nothing: SQLite's LIKE ends the pattern at the NUL
    (so ``a\x00b`` would act as ``a``), PostgreSQL refuses it, and NUL separates id from name in
    :func:`search_texts`."""
    return "\x00" in text


def position(dialect: str) -> str:
    """The 1-based position of parameter ``?`` in ``{}`` (0: absent)."""
    return "instr({}, ?)" if dialect == "sqlite" else "strpos({}, ?)"


def contains(dialect: str, text: str) -> tuple[str, list]:
    """SQL that a partner ``p``'s id or name contains ``text`` (case-insensitive), with its parameters.

    A literal substring search (``instr``/``strpos``), not ``LIKE``: no wildcards to escape, and
    no pattern length limit (SQLite refuses ``LIKE`` patterns over 50,000 bytes).
    """
    needle = text.strip().casefold()
    at = position(dialect)
    return (f"({at.format('LOWER(p.partner_id)')} > 0 OR {at.format('LOWER(p.name)')} > 0)", [needle, needle])


def search_text(partner_id: str, name: str) -> str:
    """What type-to-filter matches for one partner: its casefolded ``id NUL name``."""
    return f"{partner_id}\x00{name}".casefold()


def search_texts(fetch: Fetch) -> dict[int, str]:
    """Every partner's key to its :func:`search_text`."""
    return {int(key): search_text(pid, name) for key, pid, name in fetch("SELECT key, partner_id, name FROM partner")}


def needle_of(text: str) -> str:
    """The form of a typed search text that is looked for in the search texts."""
    return text.strip().casefold()


def matching(texts: Sequence[str], text: str) -> list[bool]:
    """Which of ``texts`` (search texts) contain ``text``."""
    needle = needle_of(text)
    if unsearchable(needle):
        return [False] * len(texts)
    return [needle in t for t in texts]


# --------------------------------------------------------------------------- find a partner
#
# The rules of find-a-partner (the palette and the partner list's search), the same for every
# reader: the texts come from the database, the matching is here.
#
# - the query is split into words; a partner matches when every word matches, in any order;
# - a word matches the partner's id by prefix, or its name, region or account manager anywhere;
# - case and accents do not count (``Sao`` finds ``São``, ``ÉCLAIR`` finds ``eclair``);
# - best first (:func:`rank`): the exact id, then ids that start with the query, then names that
#   start with its first word, then names where every word starts a word, then the rest.


def words_of(text: str) -> tuple[str, ...]:
    """The words of a query, folded; none for a query holding a NUL (it matches nothing)."""
    if unsearchable(text):
        return ()
    return tuple(fold(text).split())


def find_text(partner_id: str, name: str, region: str | None, manager: str | None) -> str:
    """One partner's text for find-a-partner: its folded id, then NUL and its name, region and
    account manager (each after a NUL, so that a word never runs from one into the next)."""
    return "\x00".join((fold(partner_id), fold(name), fold(region or ""), fold(manager or "")))


def find_texts(fetch: Fetch) -> dict[int, str]:
    """Every partner's key to its :func:`find_text`."""
    return {
        int(key): find_text(pid, name, region, manager)
        for key, pid, name, region, manager in fetch(
            "SELECT key, partner_id, name, region, account_manager FROM partner"
        )
    }


def word_matches(text: str, word: str) -> bool:
    """Whether ``word`` matches the :func:`find_text` ``text``: a prefix of the id, or in the rest."""
    return text.startswith(word) or text.find(word, text.index("\x00")) >= 0


def split_texts(texts: Sequence[str]) -> tuple[list[str], list[str]]:
    """Find texts as two lists: the ids, and the rest (name, region, manager): what
    :func:`matching_pairs` reads (a keystroke's search is then one C-speed test per text)."""
    pairs = [t.partition("\x00") for t in texts]
    return [p[0] for p in pairs], [p[2] for p in pairs]


def matching_pairs(ids: Sequence[str], rests: Sequence[str], words: Sequence[str]) -> list[bool]:
    """:func:`matching_words` on :func:`split_texts`' lists."""
    if not words:
        return [False] * len(ids)
    ordered = sorted(words, key=len, reverse=True)  # the longest first: it rules out the most
    word = ordered[0]
    mask = [word in r or i.startswith(word) for i, r in zip(ids, rests)]
    for word in ordered[1:]:
        mask = [m and (word in r or i.startswith(word)) for m, i, r in zip(mask, ids, rests)]
    return mask


def matching_words(texts: Sequence[str], words: Sequence[str]) -> list[bool]:
    """Which of ``texts`` (find texts) every one of ``words`` matches; nothing for no words."""
    ids, rests = split_texts(texts)
    return matching_pairs(ids, rests, words)


def rank(text: str, words: Sequence[str]) -> int:
    """How well ``text`` (a find text that matches ``words``) matches: 0 is best."""
    query = " ".join(words)
    cut = text.index("\x00")
    partner_id, name = text[:cut], text[cut + 1 : text.index("\x00", cut + 1)]
    if partner_id == query:
        return 0
    if partner_id.startswith(words[0]):
        return 1
    if name.startswith(words[0]):
        return 2
    starts = {w for w in re.split(r"[^\w]+", name) if w}
    if all(any(s.startswith(w) for s in starts) for w in words):
        return 3
    return 4


def find(texts: dict[int, str], query: str, limit: int | None = None) -> list[int]:
    """The keys of the partners ``query`` finds, best first (then by their find text, natural order)."""
    words = words_of(query)
    keys = list(texts)
    values = list(texts.values())
    found = [(k, t) for k, t, m in zip(keys, values, matching_words(values, words)) if m]
    found.sort(key=lambda kt: (rank(kt[1], words), natural_key(kt[1].split("\x00", 2)[1]), natural_key(kt[1])))
    keys = [k for k, _t in found]
    return keys if limit is None else keys[:limit]


def natural_key(text: str) -> str:
    """``text``'s natural order (P2 before P10, case and accents aside): the key the partner table
    stores for ids and names (:func:`tiertui.scoring.natural.natural_sort_key`)."""
    return natural_sort_key(text)


# --------------------------------------------------------------------------- periods

_UNIFORM = (re.compile(r"\d{4}-Q[1-4]"), re.compile(r"\d{4}-(0[1-9]|1[0-2])"), re.compile(r"\d{4}"))

# every distinct period with one index seek each (a DISTINCT reads all of level_result: ~0.3 s at 100,000)
PERIODS_SQL = (
    "WITH RECURSIVE seen(period) AS (SELECT MIN(period) FROM level_result UNION ALL "
    "SELECT (SELECT MIN(r.period) FROM level_result r WHERE r.period > seen.period) FROM seen "
    "WHERE seen.period IS NOT NULL) SELECT period FROM seen WHERE period IS NOT NULL"
)


def period_labels(fetch: Fetch) -> list[str]:
    """The distinct period labels of the stored results, in no particular order."""
    return [r[0] for r in fetch(PERIODS_SQL)]


def ordered_without_parsing(labels: Sequence[str]) -> list[str] | None:
    """``labels`` oldest first when they are all canonical labels of one frequency (then their text
    order is their time order); None when only :func:`tiertui.scoring.parse_period` can tell."""
    for pattern in _UNIFORM:
        if all(pattern.fullmatch(label) for label in labels):
            return sorted(labels)
    return None


def levelled_periods(fetch: Fetch) -> list[str]:
    """Every levelled period, oldest first (the one implementation: both readers and the exports)."""
    labels = period_labels(fetch)
    ordered = ordered_without_parsing(labels)
    if ordered is None:  # mixed or unusual labels: the scoring module's order
        from ...scoring import parse_period  # loads numpy: only when the labels need it

        ordered = [p.label for p in sorted(parse_period(label) for label in labels)]
    return ordered


# --------------------------------------------------------------------------- programs

_programs: dict[str, Program] = {}
_programs_lock = threading.Lock()


def parsed_program(content_hash: str, content: str, source_name: str) -> Program:
    """A stored program version, parsed once per process (keyed by its content hash): the one cache
    of parsed programs, for both readers and the scorecard's explanations."""
    found = _programs.get(content_hash)
    if found is None:
        from ...scoring import parse_program  # loads numpy: only for what needs the whole program

        found = parse_program(content, source_name)
        with _programs_lock:
            found = _programs.setdefault(content_hash, found)
    return found


# --------------------------------------------------------------------------- the program's heading


@dataclass(frozen=True)
class ProgramHeading:
    """What the lists need of the active program: its name and tiers (lowest first)."""

    name: str
    tiers: tuple[str, ...]


ACTIVE_PROGRAM_SQL = "SELECT content, source_name, name, content_hash FROM program_version WHERE active = 1 LIMIT 1"


def program_heading(content: str) -> ProgramHeading | None:
    """The name and tiers of a stored program's TOML, read as :func:`tiertui.scoring.parse_program`
    reads them (stripped), without loading the scoring module (and numpy). A stored program was
    checked when it was loaded; None if this one does not look like it was: parse it in full."""
    try:
        head = tomllib.loads(content).get("program")
    except tomllib.TOMLDecodeError:
        return None
    if not isinstance(head, dict):
        return None
    name, tiers = head.get("name"), head.get("tiers")
    if (
        not isinstance(name, str)
        or not name.strip()
        or not isinstance(tiers, list)
        or not tiers
        or not all(isinstance(t, str) and t.strip() for t in tiers)
    ):
        return None
    return ProgramHeading(name.strip(), tuple(t.strip() for t in tiers))


# --------------------------------------------------------------------------- the partner list


def partner_where(dialect: str, q: PartnerQuery) -> tuple[str, list]:
    clauses, params = [], []
    if unsearchable(q.text):
        clauses.append("1 = 0")
    elif q.text.strip():
        clause, values = contains(dialect, q.text)
        clauses.append(clause)
        params += values
    for column, value in (
        ("r.effective_tier", q.tier),
        ("p.region", q.region),
        ("p.partner_type", q.partner_type),
        ("p.account_manager", q.manager),
        ("r.event", q.event),
    ):
        if value is not None and unsearchable(value):
            clauses.append("1 = 0")  # nothing stored holds a NUL (PostgreSQL refuses one in a parameter)
        elif value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if q.at_risk is not None:
        clauses.append("r.at_risk = ?" if q.at_risk else "(r.at_risk = ? OR r.at_risk IS NULL)")
        params.append(bool(q.at_risk) if dialect != "sqlite" else int(bool(q.at_risk)))
    if q.overridden is not None:
        clauses.append("r.override_id IS NOT NULL" if q.overridden else "r.override_id IS NULL")
    if q.designation is not None:
        if unsearchable(q.designation):
            clauses.append("1 = 0")
        else:
            clauses.append(held_clause(dialect))
            params += [DESIGNATION_PREFIX + q.designation, HELD]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


# --------------------------------------------------------------------------- designations held
#
# (v2 §3.12) A result row holds ``designation:<name>`` (1 when held) among its group values, packed
# as little-endian float64 in the order of the latest levelling run's metrics (``level_run.metrics``,
# a JSON list; see ``storage.queries.unpack_group_values``). The filter compares that value's eight
# bytes with 1.0's; the slot is looked up in the run's list by the database itself.

DESIGNATION_PREFIX = "designation:"
HELD = b"\x00\x00\x00\x00\x00\x00\xf0\x3f"  # 1.0, float64 little-endian
LATEST_RUN_METRICS_SQL = "SELECT metrics FROM level_run ORDER BY id DESC LIMIT 1"


def held_clause(dialect: str) -> str:
    """SQL that result ``r`` holds the designation named by the first parameter (``designation:<name>``)
    whose stored value must equal the second (:data:`HELD`); no such slot: false."""
    if dialect == "sqlite":
        slot = (
            "(SELECT j.key FROM json_each((SELECT metrics FROM level_run ORDER BY id DESC LIMIT 1)) j "
            "WHERE j.value = ?)"
        )
        return f"substr(r.group_values, 8 * {slot} + 1, 8) = ?"
    slot = (
        "(SELECT t.ord - 1 FROM json_array_elements_text((SELECT metrics FROM level_run ORDER BY id DESC LIMIT 1)"
        "::json) WITH ORDINALITY AS t(value, ord) WHERE t.value = ?)"
    )
    return f"substring(r.group_values FROM (8 * {slot} + 1)::int FOR 8) = ?"


def designation_names(fetch: Fetch) -> tuple[str, ...]:
    """The designations the stored results hold a flag for (the latest run's), sorted."""
    rows = fetch(LATEST_RUN_METRICS_SQL)
    try:
        metrics = json.loads(rows[0][0]) if rows else []
    except (TypeError, ValueError):
        return ()
    return tuple(
        sorted(m[len(DESIGNATION_PREFIX) :] for m in metrics if isinstance(m, str) and m.startswith(DESIGNATION_PREFIX))
    )


def partner_keys_sql(dialect: str, q: PartnerQuery, period: str, tiers: Sequence[str] = ()) -> tuple[str, list]:
    """The statement that selects the keys of the partners matching ``q``, in the order of its sort.

    ``period`` is the period of the results; ``tiers`` the program's tiers, lowest first (the order
    of a sort by tier).
    """
    if q.sort not in PARTNER_SORTS:
        raise ServiceError(f"cannot sort by {q.sort!r}")
    where, params = partner_where(dialect, q)
    order = PARTNER_SORTS[q.sort]
    order_params: list = []
    if order is None:
        order = (
            "CASE r.effective_tier " + " ".join("WHEN ? THEN ?" for _ in tiers) + " ELSE -1 END"
            if tiers
            else "r.effective_tier"
        )
        for i, t in enumerate(tiers):
            order_params += [t, i]
    direction = "DESC" if q.descending else "ASC"
    terms = ", ".join(f"{term} {direction}" for term in (order, *(t for t in PARTNER_TIES if t != order)))
    sql = (
        "SELECT p.key FROM partner p LEFT JOIN level_result r ON r.partner_key = p.key AND r.period = ?"
        f"{where} ORDER BY {terms}"
    )
    return sql, [period, *params, *order_params]


def partner_keys(
    fetch: Fetch, dialect: str, q: PartnerQuery, period: str, tiers: Sequence[str] = (), limit: int | None = None
) -> list[int]:
    """The keys of the partners that match ``q`` in the order of its sort (the first ``limit``)."""
    sql, params = partner_keys_sql(dialect, q, period, tiers)
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return [r[0] for r in fetch(sql, params)]


def partner_rows(fetch: Fetch, keys: Sequence[int], period: str | None) -> list[PartnerRow]:
    """The rows of ``keys`` (in that order) with their results for ``period``."""
    keys = [int(k) for k in keys]
    if not keys:
        return []
    marks = ",".join("?" * len(keys))
    rows = fetch(
        "SELECT p.key, p.partner_id, p.name, p.region, p.partner_type, p.account_manager, r.effective_tier, "
        "r.score, r.event, r.at_risk, r.badges, r.override_id, r.earned_tier FROM partner p "
        "LEFT JOIN level_result r ON r.partner_key = p.key AND r.period = ? "
        f"WHERE p.key IN ({marks})",
        [period or "", *keys],
    )
    by_key = {
        r[0]: PartnerRow(
            r[0],
            r[1],
            r[2],
            r[3] or "",
            r[4] or "",
            r[5] or "",
            r[6],
            None if r[7] is None else float(r[7]),
            r[8],
            bool(r[9]),
            tuple(r[10].split(";")) if r[10] else (),
            r[11] is not None,
            r[12],
        )
        for r in rows
    }
    return [by_key[k] for k in keys if k in by_key]


def _distinct(rows: list[tuple], i: int) -> tuple[str, ...]:
    return tuple(sorted({r[i] for r in rows if r[i] is not None and r[i] != ""}))


def partner_choices(fetch: Fetch) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The regions, partner types and account managers there are, each sorted."""
    # one scan of the partners for the three columns (a scan each costs ~0.08 s at 100,000)
    combos = fetch("SELECT DISTINCT region, partner_type, account_manager FROM partner")
    return _distinct(combos, 0), _distinct(combos, 1), _distinct(combos, 2)


# The distinct tracks, one index probe each (a loose index scan): DISTINCT read the whole track index,
# 70 ms at 100,000 partners (715,000 certifications), on the way to the certifications' first frame.
TRACKS_SQL = (
    "WITH RECURSIVE t(track) AS ("
    "SELECT MIN(track) FROM certification WHERE track > '' "
    "UNION ALL "
    "SELECT (SELECT MIN(c.track) FROM certification c WHERE c.track > t.track) FROM t WHERE t.track IS NOT NULL"
    ") SELECT track FROM t WHERE track IS NOT NULL"
)


def certification_tracks(fetch: Fetch) -> tuple[str, ...]:
    """The tracks of the certifications there are (not empty), sorted."""
    return _distinct(fetch(TRACKS_SQL), 0)


# --------------------------------------------------------------------------- the dashboard


def iso(dialect: str, value: date):
    return value.isoformat() if dialect == "sqlite" else value


def dashboard(
    fetch: Fetch, dialect: str, program_name: str | None, tiers: Sequence[str], period: str | None, today: date
) -> Dashboard:
    """The dashboard's figures for ``period`` (the latest levelled one), ``tiers`` lowest first."""
    partners = fetch("SELECT COUNT(*) FROM partner")[0][0]
    pending = fetch("SELECT COUNT(*) FROM tier_override WHERE status = 'pending'")[0][0]
    expiring = fetch(
        "SELECT COUNT(*) FROM certification WHERE expires_on >= ? AND expires_on <= ?",
        (iso(dialect, today), iso(dialect, today + timedelta(days=90))),
    )[0][0]
    counts: dict[str, int] = {t: 0 for t in tiers}
    events: dict[str, int] = {}
    at_risk = overridden = 0
    if period:
        # one pass over the period's results for every figure (a pass each costs ~0.1 s at 100,000)
        for tier, event, risky, over, count in fetch(
            "SELECT effective_tier, event, SUM(CASE WHEN at_risk THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN override_id IS NULL THEN 0 ELSE 1 END), COUNT(*) FROM level_result WHERE period = ? "
            "GROUP BY effective_tier, event ORDER BY effective_tier, event",
            (period,),
        ):
            counts[tier] = counts.get(tier, 0) + int(count)
            events[event] = events.get(event, 0) + int(count)
            at_risk += int(risky or 0)
            overridden += int(over or 0)
    return Dashboard(
        period=period,
        program=program_name,
        tiers=list(counts.items()),
        partners=int(partners),
        promoted=int(events.get("promoted", 0)),
        demoted=int(events.get("demoted", 0)),
        grace=int(events.get("grace", 0)),
        at_risk=at_risk,
        overridden=overridden,
        pending_overrides=int(pending),
        expiring_certifications=int(expiring),
        today=today,
    )
