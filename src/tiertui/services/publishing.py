"""Published periods (spec §3.13): results that stay put once a period is announced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection, Engine

from ..scoring import PeriodError, parse_period
from ..storage import queries
from ..storage.tables import PublishedPeriod
from . import audit, roles, staleness
from .errors import ServiceError
from .unit_of_work import UnitOfWork, using


def published_set(conn: Connection) -> set[str]:
    """The labels of the published periods."""
    return {r[0] for r in queries.fetchall(conn, "SELECT period FROM published_period")}


@dataclass(frozen=True)
class PublishResult:
    action: str  # published | unpublished
    periods: tuple[str, ...]
    already: tuple[str, ...] = ()

    def text(self) -> str:
        if not self.periods:
            if self.action == "published":
                return f"Already published: {', '.join(self.already)}; nothing changed."
            return "Nothing was published from that period on; nothing changed."
        listed = ", ".join(self.periods)
        if self.action == "published":
            return f"Published {listed}: these results no longer change; a write that would change them is refused."
        return f"Unpublished {listed}: these results are provisional again."


def _evaluated(conn: Connection) -> list[str]:
    labels = [r[0] for r in queries.fetchall(conn, "SELECT DISTINCT period FROM level_result")]
    return [p.label for p in sorted(parse_period(label) for label in labels)]


def _label(period: str) -> str:
    try:
        return parse_period(period).label
    except PeriodError as exc:
        raise ServiceError(str(exc)) from None


def publish(target: Engine | UnitOfWork, user: str, period: str) -> PublishResult:
    """Publish every evaluated period up to ``period`` (approver or admin; audited), in one unit of
    work holding the results lock: no re-levelling commits between reading the results and publishing."""
    label = _label(period)
    with using(target) as uow:
        session = uow.session
        assert session is not None
        roles.require(session, user, "approver", "publishing periods")
        conn = uow.connection
        evaluated = _evaluated(conn)
        if label not in evaluated:
            raise ServiceError(
                f"{label} has no results to publish"
                + (f" (evaluated: {', '.join(evaluated)})" if evaluated else ": run tiertui level first")
            )
        state = staleness.stale_since(conn)
        if state is not None:
            raise ServiceError(f"not published: {staleness.describe(state)}; run tiertui level first")
        done = published_set(conn)
        upto = parse_period(label)
        new = tuple(p for p in evaluated if parse_period(p) <= upto and p not in done)
        for p in new:
            session.add(PublishedPeriod(period=p, published_by=user))
        if new:
            audit.record(session, user, "period.publish", "period", label, periods=list(new))
        return PublishResult("published", new, tuple(p for p in evaluated if p in done and parse_period(p) <= upto))


def unpublish(target: Engine | UnitOfWork, user: str, period: str, reason: str) -> PublishResult:
    """Reopen ``period`` and every published period after it (admin; audited with the reason)."""
    label = _label(period)
    if not reason.strip():
        raise ServiceError("unpublishing needs a reason (--reason TEXT): partners may have been told these results")
    with using(target) as uow:
        session = uow.session
        assert session is not None
        roles.require(session, user, "admin", "unpublishing periods")
        conn = uow.connection
        start = parse_period(label)
        gone = tuple(sorted((p for p in published_set(conn) if parse_period(p) >= start), key=parse_period))
        for p in gone:
            queries.execute(conn, "DELETE FROM published_period WHERE period = ?", (p,))
        if gone:
            audit.record(session, user, "period.unpublish", "period", label, periods=list(gone), reason=reason)
        return PublishResult("unpublished", gone)


@dataclass(frozen=True)
class PeriodState:
    """An evaluated period: published (by whom, when) or provisional."""

    period: str
    published_at: datetime | None = None
    published_by: str = ""

    @property
    def published(self) -> bool:
        return self.published_at is not None

    def text(self) -> str:
        if self.published_at is None:
            return f"{self.period}  provisional"
        return f"{self.period}  published {self.published_at:%Y-%m-%d %H:%M} UTC by {self.published_by}"


def period_states(engine: Engine) -> list[PeriodState]:
    """Every evaluated period, oldest first, with its published state (the app's periods dialog)."""
    with engine.connect() as conn:
        evaluated = _evaluated(conn)
        rows = {
            r[0]: (r[1], r[2])
            for r in queries.fetchall(conn, "SELECT period, published_at, published_by FROM published_period")
        }
    states = []
    for p in evaluated:
        at, by = rows.get(p, (None, ""))
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        states.append(PeriodState(p, at, by or ""))
    return states
