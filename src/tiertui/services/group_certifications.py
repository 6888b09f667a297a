"""Certifications by partner group, for lapse risk (spec v2 §3.8) on many pages at once.

Partner-facing scorecards name the certifications behind a lapse risk: whose, which, expiring when.
:class:`GroupCertifications` reads the certifications of the tracks a program's gates use for the
groups of some partners (or of all) in one query, and answers per partner with
``scoring.evaluate.lapsing_people``: the very rule the levelling ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlalchemy.engine import Connection

from ..scoring import Program, next_period, parse_period
from ..scoring import evaluate as ev
from ..scoring.evaluate import Certifications, Lapse, lapsing_people, person_key
from ..scoring.program import CERT_PREFIX
from ..storage import queries


@dataclass(frozen=True)
class LapsingCertification:
    """One person's certification that expires before the next period ends, with no renewal on file."""

    person: str
    certification: str  # the certification's name(s) as imported
    expires_on: date


@dataclass
class GroupCertifications:
    """The certifications of the gated tracks, and which rows lie in each partner's group."""

    tracks: list[str]
    names: list[str] = field(default_factory=list)  # per row: the certification's name
    certs: Certifications = field(default_factory=Certifications.empty)
    by_group: dict[int, np.ndarray] = field(default_factory=dict)  # partner key -> rows in its group

    @classmethod
    def read(cls, conn: Connection, program: Program, keys: list[int] | None = None) -> GroupCertifications:
        """Of the groups of partners ``keys`` (every partner when None)."""
        tracks = [m[len(CERT_PREFIX) :] for m in program.used_metrics() if m.startswith(CERT_PREFIX)]
        if not tracks:
            return cls([])
        partners = queries.fetchall(conn, "SELECT key, partner_id, parent_id FROM partner")
        position = {p[1]: i for i, p in enumerate(partners)}
        parent = np.array([position.get(p[2], -1) if p[2] else -1 for p in partners], dtype=np.int64)
        index = {int(p[0]): i for i, p in enumerate(partners)}
        wanted: list[int] | None = None
        if keys is not None:  # the partners and all their descendants
            children: dict[int, list[int]] = {}
            for i, up in enumerate(parent.tolist()):
                if up >= 0:
                    children.setdefault(up, []).append(i)
            seen: set[int] = set()
            todo = [index[k] for k in keys if k in index]
            while todo:
                i = todo.pop()
                if i not in seen:
                    seen.add(i)
                    todo += children.get(i, [])
            wanted = [int(partners[i][0]) for i in sorted(seen)]
        marks = ",".join("?" * len(tracks))
        sql = f"SELECT partner_key, person, certification, track, earned_on, expires_on FROM certification WHERE track IN ({marks})"
        rows: list[tuple] = []
        if wanted is None:
            rows = queries.fetchall(conn, sql, tracks)
        else:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows += queries.fetchall(
                    conn, f"{sql} AND partner_key IN ({','.join('?' * len(chunk))})", [*tracks, *chunk]
                )
        rows = [r for r in rows if int(r[0]) in index]
        if not rows:
            return cls(tracks)
        owner = np.array([index[int(r[0])] for r in rows], dtype=np.int64)
        certs = Certifications(
            owner,
            ev.person_codes([r[1] for r in rows]),
            [r[3] for r in rows],
            np.array([_ordinal(r[4]) for r in rows], dtype=np.int64),
            np.array([_ordinal(r[5]) if r[5] is not None else date.max.toordinal() for r in rows], dtype=np.int64),
            [r[1] for r in rows],
        )
        found, groups = ev.ancestors_with_self(owner, parent)
        order = np.argsort(groups, kind="stable")  # a group's rows: its own, then each level below
        found, groups = found[order], groups[order]
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        key_at = [int(p[0]) for p in partners]
        by_group = {
            key_at[int(groups[s])]: found[s:e] for s, e in zip(starts, np.r_[starts[1:], len(groups)], strict=True)
        }
        return cls(tracks, [r[2] for r in rows], certs, by_group)

    def _mine(self, key: int) -> Certifications:
        rows = self.by_group.get(key, np.zeros(0, dtype=np.int64))
        c = self.certs
        if not len(c.partner):
            return c
        return Certifications(
            np.zeros(len(rows), dtype=np.int64),
            c.person[rows],
            [c.track[j] for j in rows.tolist()],
            c.earned[rows],
            c.expires[rows],
            [c.person_name[j] for j in rows.tolist()],
        )

    def lapsing(self, key: int, period: str) -> dict[str, list[Lapse]]:
        """``cert:<track>`` -> the people of partner ``key``'s group behind a lapse risk in ``period``
        (what ``scoring.explain`` takes as ``lapsing``)."""
        p = parse_period(period)
        end, next_end = p.end, next_period(p).end
        mine, lone = self._mine(key), np.array([-1], dtype=np.int64)
        return {CERT_PREFIX + t: lapsing_people(mine, lone, 0, t, end, next_end) for t in self.tracks}

    def certifications(self, key: int, metric: str, period: str, people: list[Lapse]) -> list[LapsingCertification]:
        """For the people of a lapse risk on ``metric``: each one's certifications of the track that
        count at ``period``'s end (all expire before the next period ends), named."""
        if not people or not metric.startswith(CERT_PREFIX):
            return []
        track, end = metric[len(CERT_PREFIX) :], parse_period(period).end.toordinal()
        rows = self.by_group.get(key, np.zeros(0, dtype=np.int64)).tolist()
        c = self.certs
        out: list[LapsingCertification] = []
        for lapse in people:
            who = person_key(lapse.person)
            held = [
                r
                for r in rows
                if c.track[r] == track and person_key(c.person_name[r]) == who and c.earned[r] <= end <= c.expires[r]
            ]
            names = sorted({self.names[r].strip() for r in held if self.names[r].strip()}, key=str.casefold)
            out.append(LapsingCertification(lapse.person, ", ".join(names), lapse.expires_on))
        return out


def _ordinal(value: object) -> int:
    if isinstance(value, date):
        return value.toordinal()
    return date.fromisoformat(str(value)[:10]).toordinal()
