"""What deciding one override would change (spec §3.7): each levelled period whose effective tier moves.

An override changes only its partner's effective tier, in the periods whose end lies in its window
(``starts_on <= end <= expires_on``, no expiry = open-ended), where the override approved last wins.
It never changes the earned tier, the grace counter or any group value (§3.2 rolls up metrics, not
tiers), so a parent's results never move because of a subsidiary's override, nor a subsidiary's
because of its parent's: the partner's own periods are the whole effect.

The effect is computed, not guessed: the partner's group (itself and its descendants, so its group
values are exact) is read once and evaluated twice with the shared scoring module, with the
approved overrides as they are and as they would be after the decision (approving: the request
added as the one approved last; revoking: the override taken away). The periods are those the
stored results hold (the evaluated periods); a period that is published (§3.13) is named, since a
decision that would change it is refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..scoring import ApprovedOverride, PeriodError, PeriodResult, parse_period
from ..storage import queries
from ..storage.tables import LevelRun, Override, Partner
from . import timeline
from .errors import ServiceError
from .levelling import evaluate, load_inputs
from .publishing import published_set

SHOWN = 6  # period lines spelled out before "and N more periods"
_LAST = "\uffff"  # sorts after every stored decision time: the request would be the one approved last


@dataclass(frozen=True)
class PeriodChange:
    """One levelled period whose effective tier the decision changes."""

    period: str
    before: str  # the effective tier now
    after: str  # the effective tier once decided
    earned: str


@dataclass(frozen=True)
class Effect:
    """What approving a pending request (or revoking an approved override) changes, period by period."""

    override_id: int
    partner_id: str
    tier: str
    action: str  # "approving" | "revoking" | "" (a rejected or revoked override: nothing to decide)
    status: str
    changes: tuple[PeriodChange, ...] = ()
    covered: tuple[str, ...] = ()  # the levelled periods whose end lies in the window
    published: tuple[str, ...] = ()  # changed periods that are published: the decision would be refused
    levelled: bool = True  # False: nothing levelled yet, so no stored result would change
    latest: str = ""  # the latest levelled period
    starts_after: bool = False  # the window starts after the latest levelled period ends

    def lines(self, shown: int = SHOWN) -> list[str]:
        """The effect in words: a headline, one line per changed period (``shown`` of them, then
        "and N more periods"), and a warning for published periods. Text from data is not made
        visible here: the caller prints or shows it literally."""
        verb = self.action.capitalize()
        if not self.action:
            return [f"Override #{self.override_id} is {self.status}: it changes nothing."]
        if not self.levelled:
            return [f"{verb} changes no result yet: nothing is levelled (L levels every period)."]
        if not self.changes:
            if not self.covered and self.starts_after:
                return [
                    f"{verb} changes no levelled period yet: its window starts after {self.latest}, the latest "
                    "levelled; the periods levelled later that end inside it will take it."
                ]
            if not self.covered:
                return [f"{verb} changes nothing: no levelled period ends inside its window."]
            where = _periods_text(self.covered)
            if self.action == "approving":
                return [f"{verb} changes nothing: {self.partner_id} is {self.tier} already in {where}."]
            return [f"{verb} changes nothing: another override or the earned tier gives the same tier in {where}."]
        n = len(self.changes)
        head = f"{verb} changes {n} period{'' if n == 1 else 's'} of {self.partner_id}:"
        lines = [head]
        for c in self.changes[:shown]:
            lines.append(f"  {c.period}: {c.before} → {c.after} (earned {c.earned})")
        if n > shown:
            more = n - shown
            lines.append(f"  and {more} more period{'' if more == 1 else 's'} ({self.changes[-1].period} last)")
        if self.published:
            lines.append(
                f"  {_periods_text(self.published)} {'is' if len(self.published) == 1 else 'are'} published: "
                f"{self.action} would be refused until unpublished."
            )
        return lines


def _periods_text(periods: tuple[str, ...]) -> str:
    if len(periods) == 1:
        return periods[0]
    if len(periods) <= 3:
        return ", ".join(periods)
    return f"the {len(periods)} levelled periods {periods[0]} to {periods[-1]}"


def effect_of(engine: Engine, override_id: int) -> Effect:
    """What deciding override ``override_id`` changes now: approving it when pending, revoking it
    when approved (read-only; one read transaction)."""
    with Session(engine) as session:
        found = session.exec(
            select(Override, Partner.partner_id)
            .join(Partner, col(Partner.key) == Override.partner_key)
            .where(Override.id == override_id)
        ).first()
        if found is None:
            raise ServiceError(f"no override {override_id}")
        row, partner_id = found
        starts_on, expires_on = row.starts_on, row.expires_on
        action = {"pending": "approving", "approved": "revoking"}.get(row.status, "")
        base = Effect(override_id, partner_id, row.tier, action, row.status)
        if not action:
            return base
        last = session.exec(select(LevelRun).order_by(col(LevelRun.id).desc())).first()
        versions = timeline.programs(session)
        if last is None or not versions:
            return dataclasses.replace(base, levelled=False)
        labels = [p for p in last.periods.split(",") if p]
        base = dataclasses.replace(base, latest=labels[-1] if labels else "")
        conn = session.connection()
        try:
            ends = [parse_period(p).end for p in queries.read_periods(conn)]
        except PeriodError as exc:
            raise ServiceError(f"stored metrics: {exc}") from None
        if not any(_in_window(end, starts_on, expires_on) for end in ends):  # no period it could change
            latest_end = parse_period(labels[-1]).end if labels else None
            return dataclasses.replace(base, starts_after=latest_end is not None and starts_on > latest_end)
        keys = _group_keys(conn, row.partner_key)
        cols = queries.read_partners_by_key(conn, keys)
        loaded = load_inputs(conn, versions[-1], restricted=(cols, cols.parent_index()), versions=versions)
        me = cols.partner_id.index(partner_id)
        current = list(loaded.inputs.overrides)
        if action == "approving":
            program = versions[-1]
            decided = [
                *current,
                ApprovedOverride(
                    id=override_id,
                    partner=me,
                    tier=program.tier_index(row.tier) if row.tier in program.tiers else 0,
                    starts_on=starts_on,
                    expires_on=expires_on,
                    order=(_LAST, override_id),
                    tier_name=row.tier,
                ),
            ]
        else:
            decided = [o for o in current if o.id != override_id]
        now = evaluate(loaded)
        then = evaluate(dataclasses.replace(loaded, inputs=dataclasses.replace(loaded.inputs, overrides=decided)))
        published = published_set(conn)
        session.rollback()
    changes = []
    covered = []
    for a, b in zip(now, then):
        if _in_window(a.period.end, starts_on, expires_on):
            covered.append(a.period.label)
        before, after = _tier(a, me, a.effective), _tier(b, me, b.effective)
        if before != after:
            changes.append(PeriodChange(a.period.label, before, after, _tier(a, me, a.earned)))
    return dataclasses.replace(
        base,
        changes=tuple(changes),
        covered=tuple(covered),
        published=tuple(c.period for c in changes if c.period in published),
    )


def _tier(result: PeriodResult, position: int, tiers: np.ndarray) -> str:
    program = result.program
    assert program is not None  # level_timeline names each period's version
    return program.tiers[int(tiers[position])]


def _in_window(end: date, starts_on: date, expires_on: date | None) -> bool:
    return starts_on <= end and (expires_on is None or end <= expires_on)


def _group_keys(conn, key: int) -> np.ndarray:
    """The keys of the partner ``key`` and all its descendants (any depth; a cycle ends the walk)."""
    rows = queries.fetchall(
        conn,
        "WITH RECURSIVE grp(key, partner_id) AS ("
        " SELECT key, partner_id FROM partner WHERE key = ?"
        " UNION SELECT p.key, p.partner_id FROM partner p JOIN grp ON p.parent_id = grp.partner_id"
        ") SELECT key FROM grp ORDER BY key",
        (key,),
    )
    return np.array([r[0] for r in rows], dtype=np.int64)
