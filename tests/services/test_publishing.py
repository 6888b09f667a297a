"""Published periods (spec §3.13): a write that would change a published result is refused whole.

Fixture: the Mitel 2014 program (2014-Q3 to 2015-Q1). Each refused write leaves the database as it
was: on SQLite the file itself, byte for byte; on PostgreSQL every row of every table.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from publish_builder import mitel
from sqlalchemy import inspect, text

from tiertui.services import audit, publishing
from tiertui.services.errors import ServiceError
from tiertui.services.imports import import_file
from tiertui.services.levelling import run_levelling
from tiertui.services.roles import RoleRefused
from tiertui.storage.queries import PublishedResultsChanged


def snapshot(engine) -> str:
    """SQLite: a hash of the database file (connections closed, so the WAL is folded in);
    PostgreSQL: a hash of every row of every table."""
    if engine.dialect.name == "sqlite":
        engine.dispose()
        path = Path(engine.url.database)
        assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
        return hashlib.sha256(path.read_bytes()).hexdigest()
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            for row in (
                conn.execute(text(f'SELECT * FROM "{table}" ORDER BY 1, 2')) if table != "alembic_version" else []
            ):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def write_metrics(folder: Path, rows: list[tuple[str, str, int]]) -> Path:
    path = folder / "more_metrics.csv"
    path.write_text("partner_id,period,revenue\n" + "".join(f"{p},{q},{v}\n" for p, q, v in rows), encoding="utf-8")
    return path


@pytest.fixture
def mitel_db(any_engine, tmp_path):
    mitel(any_engine, tmp_path)
    return any_engine


def test_publish_publishes_every_period_up_to_p_and_is_audited(mitel_db):
    result = publishing.publish(mitel_db, "alice", "2014-Q4")
    assert result.periods == ("2014-Q3", "2014-Q4")
    with mitel_db.connect() as conn:
        assert publishing.published_set(conn) == {"2014-Q3", "2014-Q4"}
    again = publishing.publish(mitel_db, "alice", "2014-Q4")
    assert again.periods == () and "Already published" in again.text()
    lines = audit.entries(mitel_db, "ann", limit=5)
    assert lines[0].action == "period.publish" and "2014-Q4" in lines[0].entity_id


def test_publishing_needs_an_approver_and_unpublishing_an_admin_with_a_reason(mitel_db):
    with pytest.raises(RoleRefused, match="publishing periods needs the approver role"):
        publishing.publish(mitel_db, "mia", "2014-Q4")
    publishing.publish(mitel_db, "alice", "2014-Q4")
    with pytest.raises(RoleRefused, match="unpublishing periods needs the admin role"):
        publishing.unpublish(mitel_db, "alice", "2014-Q4", "typo")
    with pytest.raises(ServiceError, match="needs a reason"):
        publishing.unpublish(mitel_db, "ann", "2014-Q4", "  ")
    with pytest.raises(ServiceError, match="2019-Q1 has no results"):
        publishing.publish(mitel_db, "alice", "2019-Q1")


def test_a_levelling_run_that_would_change_a_published_period_is_refused_whole(mitel_db, tmp_path):
    publishing.publish(mitel_db, "alice", "2014-Q4")
    # M4's 2014-Q4 revenue falls: its published 2014-Q4 result would change, and 2015-Q1 (open) too
    import_file(mitel_db, "metrics", write_metrics(tmp_path, [("M4", "2014-Q4", 1000)]), "ann")
    before = snapshot(mitel_db)
    with pytest.raises(PublishedResultsChanged) as caught:
        run_levelling(mitel_db, "ann")
    message = str(caught.value)
    assert "M4 in 2014-Q4" in message and "tiertui unpublish 2014-Q4" in message
    assert "2015-Q1" not in message  # an open period may change; only published ones are named
    assert snapshot(mitel_db) == before


def test_unpublish_reopens_the_period_and_those_after_it(mitel_db, tmp_path):
    publishing.publish(mitel_db, "alice", "2015-Q1")
    result = publishing.unpublish(mitel_db, "ann", "2014-Q4", "revenue for M4 was corrected")
    assert result.periods == ("2014-Q4", "2015-Q1")
    with mitel_db.connect() as conn:
        assert publishing.published_set(conn) == {"2014-Q3"}
        score = conn.execute(
            text(
                "SELECT score FROM level_result r JOIN partner p ON p.key = r.partner_key "
                "WHERE p.partner_id = 'M4' AND period = '2014-Q4'"
            )
        ).scalar()
    import_file(mitel_db, "metrics", write_metrics(tmp_path, [("M4", "2014-Q4", 1000)]), "ann")
    run_levelling(mitel_db, "ann")  # 2014-Q4 is open again
    with mitel_db.connect() as conn:
        after = conn.execute(
            text(
                "SELECT score FROM level_result r JOIN partner p ON p.key = r.partner_key "
                "WHERE p.partner_id = 'M4' AND period = '2014-Q4'"
            )
        ).scalar()
    assert after < score
    entry = audit.entries(mitel_db, "ann", limit=10)
    assert any(e.action == "period.unpublish" and "corrected" in str(e.detail) for e in entry)


def m5_score(engine, period: str) -> float:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT score FROM level_result r JOIN partner p ON p.key = r.partner_key "
                "WHERE p.partner_id = 'M5' AND period = :period"
            ),
            {"period": period},
        ).scalar()


def test_a_write_that_changes_only_open_periods_goes_through(mitel_db, tmp_path):
    publishing.publish(mitel_db, "alice", "2014-Q4")
    published, before = m5_score(mitel_db, "2014-Q4"), m5_score(mitel_db, "2015-Q1")
    import_file(mitel_db, "metrics", write_metrics(tmp_path, [("M5", "2015-Q1", 900000)]), "ann")
    run_levelling(mitel_db, "ann")
    assert m5_score(mitel_db, "2015-Q1") > before
    assert m5_score(mitel_db, "2014-Q4") == published
