"""Published periods (spec §3.13): a write that would change a published result is refused whole.

Fixture: the Mitel 2014 program (2014-Q3 to 2015-Q1). Each refused write leaves the database as it
was: on SQLite the file itself, byte for byte; on PostgreSQL every row of every table.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from publish_builder import MITEL_PROGRAM, mitel
from sqlalchemy import inspect, text

from tiertui.services import audit, overrides, programs, publishing
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


def _csv(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _metrics(engine, folder):
    import_file(engine, "metrics", write_metrics(folder, [("M4", "2014-Q4", 1000)]), "ann")


def _certifications(engine, folder):
    # both of Prairie Voice's sales accreditations end before 2014-Q4's end: M5 misses Silver's sales gate
    text = (
        "partner_id,person,certification,track,earned_on,expires_on\n"
        "M5,Kai Wong,Sales Engagement Accreditation,sales,2014-08-01,2014-09-30\n"
        "M5,Lia Moss,Sales Engagement Accreditation,sales,2014-05-01,2014-06-30\n"
    )
    import_file(engine, "certifications", _csv(folder, "certs.csv", text), "ann")


def _parent(engine, folder):
    # Northwind Ottawa leaves Northwind Communications: M1's group loses its revenue
    import_file(engine, "partners", _csv(folder, "p.csv", "partner_id,name,parent_id\nM2,Northwind Ottawa,\n"), "ann")


def _tier_on_record(engine, folder):
    import_file(engine, "partners", _csv(folder, "p.csv", "partner_id,name,tier\nM5,Prairie Voice,Platinum\n"), "ann")


def _program(engine, folder):
    text = MITEL_PROGRAM.read_text(encoding="utf-8").replace("min_score = 80", "min_score = 99")
    programs.load_program_file(engine, _csv(folder, "stricter.toml", text), "ann")


def _override(engine, folder):
    oid = overrides.request(engine, "mia", "M5", "Platinum", "strategic", date(2014, 1, 1))
    try:
        overrides.decide(engine, "alice", int(oid), True, "ok")
    finally:
        assert [o.status for o in overrides.list_overrides(engine, None) if o.id == int(oid)] == ["pending"]


WRITES = {
    "metrics import": (_metrics, "M4 in 2014-Q4"),
    "certifications import": (_certifications, "M5 in 2014-Q"),
    "a partner's parent": (_parent, "M1 in 2014-Q3"),
    "a partner's tier on record": (_tier_on_record, "M5 in 2014-Q3"),
    "program load": (_program, " in 2014-Q"),
    "override approval": (_override, "M5 in 2014-Q3"),
}


@pytest.mark.parametrize("kind", list(WRITES))
def test_each_write_that_would_change_a_published_result_is_refused_whole(mitel_db, tmp_path, kind):
    write, named = WRITES[kind]
    publishing.publish(mitel_db, "alice", "2014-Q4")
    if kind == "override approval":  # the request itself changes no result; its approval would
        before = None
    else:
        before = snapshot(mitel_db)
    with pytest.raises(PublishedResultsChanged) as caught:
        write(mitel_db, tmp_path)
    message = str(caught.value)
    assert named in message and "Nothing was written" in message and "tiertui unpublish 2014-" in message
    assert "2015-Q1" not in message  # an open period may change; only published ones are named
    if before is not None:
        assert snapshot(mitel_db) == before
    # unpublished, the same write goes through
    publishing.unpublish(mitel_db, "ann", "2014-Q3", "correction")
    if kind == "override approval":
        oid = max(o.id for o in overrides.list_overrides(mitel_db, "pending"))
        overrides.decide(mitel_db, "alice", oid, True, "ok")
    else:
        write(mitel_db, tmp_path)


def test_a_levelling_run_over_unchanged_data_is_allowed_and_changes_nothing(mitel_db):
    publishing.publish(mitel_db, "alice", "2015-Q1")
    run_levelling(mitel_db, "ann")
    with mitel_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM level_result")).scalar() == 15


def test_import_without_relevelling_is_refused_while_periods_are_published(mitel_db, tmp_path):
    publishing.publish(mitel_db, "alice", "2014-Q3")
    before = snapshot(mitel_db)
    with pytest.raises(ServiceError, match="import --no-level is refused while periods are published"):
        import_file(mitel_db, "metrics", write_metrics(tmp_path, [("M5", "2015-Q1", 1)]), "ann", level=False)
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
    import_file(mitel_db, "metrics", write_metrics(tmp_path, [("M4", "2014-Q4", 1000)]), "ann")  # re-levels
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
    assert m5_score(mitel_db, "2015-Q1") > before
    assert m5_score(mitel_db, "2014-Q4") == published
