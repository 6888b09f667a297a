"""Removing data on purpose (spec v2 §4): ``tiertui delete metrics|certifications|partner``.

Each delete is one unit of work: the rows go, an audit entry says what was removed (the keys
asked for, row counts, the partners touched) and the results it affects are re-levelled, all in
the same transaction. Admins only. Decisions where the spec is silent:

* A delete that matches nothing is refused with a message saying so (non-zero exit for a
  script) and writes nothing, not even an audit entry. A partner id that does not exist is
  refused the same way.
* ``--period`` is read like a period in an import (``2105-q1`` is ``2105-Q1``). When the last
  metric values of a period go, the period is no longer evaluated: every partner is re-levelled
  and the period's results disappear with it.
* ``--person`` matches people as levelling counts them: trimmed and case-insensitively, so
  ``"Jane Roe"`` removes ``"jane roe "`` too, and every renewal of that person at the partner.
* ``delete partner`` is refused while the partner has subsidiaries (naming them): move or delete
  them first. It removes the partner's metric values, certifications, overrides (any status) and
  results; its parent's group loses it, so the parent and the parent's ancestors are re-levelled.
  The audit entries of its overrides stay in the log.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection, Engine

from ..scoring import PeriodError, parse_period
from ..storage import queries
from . import audit, roles
from .errors import ServiceError
from .relevel import relevel
from .unit_of_work import UnitOfWork, using

LISTED = 200  # partner ids named in an audit entry; the count is always there
NAMED = 10  # subsidiaries named in a refusal


class NothingToDelete(ServiceError):
    """The delete matched no rows: nothing was written."""


@dataclass(frozen=True)
class DeleteReport:
    """What a delete removed: ``removed`` rows per kind, ``partners`` touched, and the re-levelling."""

    what: str
    removed: dict[str, int]
    partners: list[str] = field(default_factory=list)
    relevelled: str = ""

    def text(self) -> str:
        counts = ", ".join(f"{n:,} {kind}" for kind, n in self.removed.items() if n)
        line = f"Deleted {self.what}: {counts}"
        if self.partners:
            shown = ", ".join(self.partners[:NAMED]) + (
                f" and {len(self.partners) - NAMED:,} more" if len(self.partners) > NAMED else ""
            )
            line += f" (partner{'s' if len(self.partners) != 1 else ''} {shown})"
        return line + (f"; {self.relevelled}" if self.relevelled else "") + "."


def _partner_key(conn: Connection, partner_id: str) -> tuple[int, str | None]:
    """(key, parent_id) of ``partner_id``, exactly as stored."""
    if not partner_id or "\x00" in partner_id:
        raise ServiceError(f"no partner {partner_id!r}")
    rows = queries.fetchall(conn, "SELECT key, parent_id FROM partner WHERE partner_id = ?", (partner_id,))
    if not rows:
        raise ServiceError(f"no partner {partner_id!r}")
    return int(rows[0][0]), rows[0][1]


def _ids_of(conn: Connection, keys: list[int]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(keys), queries.KEYS_CHUNK):
        chunk = keys[start : start + queries.KEYS_CHUNK]
        found += [
            r[0]
            for r in queries.fetchall(
                conn, f"SELECT partner_id FROM partner WHERE key IN ({','.join('?' * len(chunk))})", chunk
            )
        ]
    return sorted(found)


def _relevel(uow: UnitOfWork, user: str, periods_before: list[str], why: str, **kwargs) -> str:
    """Re-level what the delete affects; every partner when the evaluated periods changed."""
    full = sorted(queries.read_periods(uow.connection)) != sorted(periods_before)
    done = relevel(uow, user, full=full, why=why, **kwargs)
    return done.text() if done.partners else ""


def _listed(ids: list[str]) -> dict:
    return {"partner_ids": ids[:LISTED], "partners": len(ids)} | (
        {"partner_ids_cut": True} if len(ids) > LISTED else {}
    )


# ---------------------------------------------------------------------------- metrics


def delete_metrics(
    target: Engine | UnitOfWork,
    user: str,
    period: str,
    metric: str | None = None,
    partner_id: str | None = None,
) -> DeleteReport:
    """Remove the metric values of ``period`` (of one ``metric``, of one partner, when given)."""
    try:
        label = parse_period(period).label
    except PeriodError as exc:
        raise ServiceError(str(exc)) from None
    with using(target) as uow:
        assert uow.session is not None
        roles.require(uow.session, user, "admin", "deleting data")
        conn = uow.connection
        where: list[str] = ["period = ?"]
        params: list[str | int] = [label]
        if metric is not None:
            if "\x00" in metric:
                raise NothingToDelete(f"nothing to delete: no metric {metric!r}; nothing was changed")
            where.append("metric = ?")
            params.append(metric)
        if partner_id is not None:
            key, _ = _partner_key(conn, partner_id)
            where.append("partner_key = ?")
            params.append(key)
        clause = " AND ".join(where)
        rows = queries.fetchall(conn, f"SELECT metric, partner_key FROM metric_value WHERE {clause}", params)
        what = (
            f"metric values of {label}"
            + (f", metric {metric}" if metric else "")
            + (f", partner {partner_id}" if partner_id else "")
        )
        if not rows:
            periods = sorted(queries.read_periods(conn))
            raise NothingToDelete(
                f"nothing to delete: no {what}; nothing was changed"
                + (f" (periods with metrics: {', '.join(periods)})" if periods else " (no metrics are stored)")
            )
        periods_before = queries.read_periods(conn)
        per_metric = dict(sorted(Counter(m for m, _ in rows).items()))
        keys = sorted({int(k) for _, k in rows})
        ids = _ids_of(conn, keys)
        removed = queries.execute(conn, f"DELETE FROM metric_value WHERE {clause}", params)
        relevelled = _relevel(uow, user, periods_before, f"deletion of {what}", keys=keys)
        audit.record(
            uow.session,
            user,
            "delete.metrics",
            "partner" if partner_id else "metric_value",
            partner_id or label,
            period=label,
            metric=metric,
            rows=removed,
            per_metric=per_metric,
            **({"partner_id": partner_id} if partner_id else {}),
            **_listed(ids),
            **({"relevelled": relevelled} if relevelled else {}),
        )
        return DeleteReport(what, {"metric values": removed}, ids, relevelled)


# ---------------------------------------------------------------------------- certifications


def _person(text: str) -> str:
    return text.strip().casefold()


def delete_certifications(
    target: Engine | UnitOfWork, user: str, partner_id: str, person: str | None = None
) -> DeleteReport:
    """Remove the certifications of one partner (of one person, every renewal, when given)."""
    with using(target) as uow:
        assert uow.session is not None
        roles.require(uow.session, user, "admin", "deleting data")
        conn = uow.connection
        key, _ = _partner_key(conn, partner_id)
        rows = queries.fetchall(
            conn,
            "SELECT id, person, certification, track, earned_on FROM certification WHERE partner_key = ? ORDER BY id",
            (key,),
        )
        if person is not None:
            rows = [r for r in rows if _person(r[1]) == _person(person)]
        what = f"certifications of {partner_id}" + (f", person {person.strip()}" if person is not None else "")
        if not rows:
            raise NothingToDelete(f"nothing to delete: no {what}; nothing was changed")
        periods_before = queries.read_periods(conn)
        ids = [int(r[0]) for r in rows]
        removed = 0
        for start in range(0, len(ids), queries.KEYS_CHUNK):
            chunk = ids[start : start + queries.KEYS_CHUNK]
            removed += queries.execute(
                conn, f"DELETE FROM certification WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
        relevelled = _relevel(uow, user, periods_before, f"deletion of {what}", keys=[key])
        audit.record(
            uow.session,
            user,
            "delete.certifications",
            "partner",
            partner_id,
            partner_id=partner_id,
            person=person,
            rows=removed,
            removed=[
                {"person": p, "certification": c, "track": t, "earned_on": str(e)[:10]}
                for _, p, c, t, e in rows[:LISTED]
            ],
            **({"relevelled": relevelled} if relevelled else {}),
        )
        return DeleteReport(what, {"certifications": removed}, [partner_id], relevelled)


# ---------------------------------------------------------------------------- a partner


def delete_partner(target: Engine | UnitOfWork, user: str, partner_id: str) -> DeleteReport:
    """Remove a partner without subsidiaries, with its metrics, certifications, overrides, call notes and results."""
    with using(target) as uow:
        assert uow.session is not None
        roles.require(uow.session, user, "admin", "deleting data")
        conn = uow.connection
        key, parent = _partner_key(conn, partner_id)
        children = sorted(
            r[0] for r in queries.fetchall(conn, "SELECT partner_id FROM partner WHERE parent_id = ?", (partner_id,))
        )
        if children:
            shown = ", ".join(children[:NAMED]) + (
                f" and {len(children) - NAMED:,} more" if len(children) > NAMED else ""
            )
            raise ServiceError(
                f"{partner_id} has {len(children):,} subsidiar{'y' if len(children) == 1 else 'ies'} ({shown}): "
                "give them another parent (import partners with a new parent_id) or delete them first; nothing was changed"
            )
        periods_before = queries.read_periods(conn)
        overrides = queries.fetchall(
            conn, "SELECT id, tier, status FROM tier_override WHERE partner_key = ? ORDER BY id", (key,)
        )
        removed = {
            "metric values": queries.execute(conn, "DELETE FROM metric_value WHERE partner_key = ?", (key,)),
            "certifications": queries.execute(conn, "DELETE FROM certification WHERE partner_key = ?", (key,)),
            "overrides": queries.execute(conn, "DELETE FROM tier_override WHERE partner_key = ?", (key,)),
            "call notes": queries.execute(conn, "DELETE FROM call_note WHERE partner_key = ?", (key,)),
            "results": queries.execute(conn, "DELETE FROM level_result WHERE partner_key = ?", (key,)),
            "partner": queries.execute(conn, "DELETE FROM partner WHERE key = ?", (key,)),
        }
        relevelled = _relevel(
            uow, user, periods_before, f"deletion of partner {partner_id}", former_parents=[parent] if parent else []
        )
        audit.record(
            uow.session,
            user,
            "delete.partner",
            "partner",
            partner_id,
            partner_id=partner_id,
            parent_id=parent,
            rows={kind.replace(" ", "_"): n for kind, n in removed.items()},
            overrides=[{"id": i, "tier": t, "status": s} for i, t, s in overrides],
            **({"relevelled": relevelled} if relevelled else {}),
        )
        return DeleteReport(f"partner {partner_id}", removed, [], relevelled)
