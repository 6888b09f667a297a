"""Schema migrations (issue 5): Alembic revisions, the upgrade API, and the first-schema fixture."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections import Counter
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from db_builder import back_to_the_first_revision
from sqlalchemy import column as sql_column
from sqlalchemy import create_engine, insert, inspect, select, text
from sqlalchemy import table as sql_table
from sqlmodel import SQLModel

from tiertui.services.levelling import run_levelling
from tiertui.storage import DatabaseError, open_engine, schema
from tiertui.storage.schema import SchemaOutdated

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

FIRST_SCHEMA_DB = FIXTURES / "databases" / "first-schema.db"


def schema_diff(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, SQLModel.metadata)


def version(engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def first_schema_select(table: str) -> str:
    """The first schema's columns of ``table`` (later revisions may add more)."""
    columns = ", ".join(f'"{c}"' for c in sorted(schema.FIRST_SCHEMA[table]))
    return f'SELECT {columns} FROM "{table}"'


def sqlite_rows(path: Path) -> dict[str, Counter]:
    """Every row of every first-schema table, as a multiset per table."""
    conn = sqlite3.connect(path)
    try:
        return {t: Counter(conn.execute(first_schema_select(t)).fetchall()) for t in schema.FIRST_SCHEMA}
    finally:
        conn.close()


@pytest.fixture
def old_copy(tmp_path) -> Path:
    target = tmp_path / "old.db"
    shutil.copyfile(FIRST_SCHEMA_DB, target)
    return target


# ------------------------------------------------------------------------------ revisions


def test_head_constant_is_the_newest_script():
    assert schema.head_revision() == schema.HEAD
    revisions = list(schema._scripts().walk_revisions())
    numbers = [r.revision for r in reversed(revisions)]
    assert numbers == [f"{n:04d}" for n in range(1, len(revisions) + 1)]  # one chain, no gaps
    assert schema._scripts().get_revision(schema.FIRST).down_revision is None


def test_a_new_database_is_at_head_and_matches_the_models(any_engine):
    assert version(any_engine) == schema.HEAD
    assert schema.status(any_engine) == schema.SchemaStatus(schema.HEAD, schema.HEAD, False, False)
    assert schema_diff(any_engine) == []


def test_first_revision_is_the_schema_made_before_migrations(any_engine):
    """0001 builds what ``create_all`` built (the fixture's tables), column for column."""
    conn = sqlite3.connect(FIRST_SCHEMA_DB)
    try:
        fixture = {t: {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')} for t in schema.FIRST_SCHEMA}
    finally:
        conn.close()
    assert fixture == {t: set(c) for t, c in schema.FIRST_SCHEMA.items()}
    back_to_the_first_revision(any_engine)
    inspector = inspect(any_engine)
    assert {t: {c["name"] for c in inspector.get_columns(t)} for t in schema.FIRST_SCHEMA} == fixture


def test_opening_a_current_database_again_changes_nothing(db_url):
    open_engine(db_url).dispose()
    engine = open_engine(db_url)
    assert version(engine) == schema.HEAD
    assert schema.upgrade(engine) is None
    assert list(Path(db_url.removeprefix("sqlite:///")).parent.glob("*.backup-*")) == []
    engine.dispose()


# ------------------------------------------------------------------------------ the fixture


def test_upgrading_the_first_schema_fixture_keeps_every_row(old_copy):
    before = sqlite_rows(old_copy)
    assert sum(map(len, before.values())) > 900 and all(before.values())  # every table has rows
    engine = open_engine(f"sqlite:///{old_copy}", create=False)
    assert schema.status(engine) == schema.SchemaStatus("0001", schema.HEAD, True, False)

    backup = schema.upgrade(engine)

    assert schema.status(engine) == schema.SchemaStatus(schema.HEAD, schema.HEAD, False, False)
    assert schema_diff(engine) == []
    engine.dispose()
    assert sqlite_rows(old_copy) == before
    assert backup is not None and backup.parent == old_copy.parent
    assert backup.name.startswith("old.backup-") and backup.suffix == ".db"
    assert sqlite_rows(backup) == before
    assert sqlite3.connect(backup).execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    reopened = open_engine(f"sqlite:///{old_copy}")  # opens as a current database now, and levels
    assert version(reopened) == schema.HEAD
    run_levelling(reopened, "ann")
    with reopened.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM level_result")).scalar() == len(before["level_result"])
    reopened.dispose()


def test_opening_an_outdated_database_says_to_upgrade_and_changes_nothing(old_copy):
    before = sqlite_rows(old_copy)
    with pytest.raises(SchemaOutdated) as caught:
        open_engine(f"sqlite:///{old_copy}")
    message = str(caught.value)
    assert "tiertui db upgrade" in message and "backup" in message and "0001" in message
    assert isinstance(caught.value, DatabaseError)
    assert sqlite_rows(old_copy) == before
    assert sqlite3.connect(old_copy).execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
    assert "ix_partner_name" not in {
        ix["name"] for ix in inspect(create_engine(f"sqlite:///{old_copy}")).get_indexes("partner")
    }
    assert list(old_copy.parent.glob("*.backup-*")) == []


def test_a_database_made_before_migrations_counts_as_the_first_revision(old_copy):
    conn = sqlite3.connect(old_copy)
    conn.execute("DROP TABLE alembic_version")
    conn.commit()
    conn.close()
    before = sqlite_rows(old_copy)
    engine = open_engine(f"sqlite:///{old_copy}", create=False)
    assert schema.current_revision(engine) == "0001"
    with pytest.raises(SchemaOutdated):
        open_engine(f"sqlite:///{old_copy}")
    assert schema.upgrade(engine, backup=False) is None
    assert version(engine) == schema.HEAD
    assert schema_diff(engine) == []
    engine.dispose()
    assert sqlite_rows(old_copy) == before
    assert list(old_copy.parent.glob("*.backup-*")) == []


def test_a_database_made_by_create_all_with_newer_tables_is_refused(tmp_path):
    """Only the first schema is recognised without a version: anything else could be half-migrated."""
    url = f"sqlite:///{tmp_path / 'all.db'}"
    plain = create_engine(url)
    SQLModel.metadata.create_all(plain)
    plain.dispose()
    if schema.HEAD == schema.FIRST:
        pytest.skip("the models are still the first schema")
    with pytest.raises(DatabaseError, match="not the first schema"):
        open_engine(url)


def test_tables_that_are_not_the_first_schema_are_refused(tmp_path):
    path = tmp_path / "odd.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE partner (key INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="not the first schema"):
        open_engine(f"sqlite:///{path}")


def test_a_database_with_other_tables_only_gets_the_schema(tmp_path):
    path = tmp_path / "shared.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.commit()
    conn.close()
    engine = open_engine(f"sqlite:///{path}")
    assert version(engine) == schema.HEAD
    with engine.connect() as c:
        assert c.execute(text("SELECT body FROM notes")).scalar() == "keep me"
    engine.dispose()


def test_a_newer_revision_is_refused(db_url):
    engine = open_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(DatabaseError, match="newer tiertui") as caught:
        open_engine(db_url)
    assert not isinstance(caught.value, SchemaOutdated)
    with pytest.raises(DatabaseError, match="newer tiertui"):
        schema.upgrade(engine)
    engine.dispose()


# ------------------------------------------------------------------------------ both backends


def copy_fixture_rows(engine) -> None:
    """The fixture's rows (first-schema columns, read through the models' types) into ``engine``."""
    source = create_engine(f"sqlite:///{FIRST_SCHEMA_DB}")
    try:
        with source.connect() as src, engine.begin() as dst:
            for table in SQLModel.metadata.sorted_tables:
                if table.name not in schema.FIRST_SCHEMA:  # added by a later revision
                    continue
                columns = [table.c[name] for name in sorted(schema.FIRST_SCHEMA[table.name])]
                rows = [dict(zip((c.name for c in columns), row)) for row in src.execute(select(*columns))]
                # only these columns (the models' insert defaults fill columns that 0001 does not have)
                first = sql_table(table.name, *(sql_column(c.name, c.type) for c in columns))
                dst.execute(insert(first), rows)
    finally:
        source.dispose()


def test_upgrade_from_the_first_revision_keeps_rows(any_engine):
    """The fixture's data at 0001 on either backend: refused on open, then upgraded in place."""
    url = any_engine.url.render_as_string(hide_password=False)
    engine = open_engine(url, create=False)
    back_to_the_first_revision(engine)
    copy_fixture_rows(engine)
    with engine.connect() as conn:
        before = {t: Counter(map(tuple, conn.execute(text(first_schema_select(t))))) for t in schema.FIRST_SCHEMA}
    with pytest.raises(SchemaOutdated, match="tiertui db upgrade"):
        open_engine(url)
    schema.upgrade(engine, backup=False)
    assert version(engine) == schema.HEAD
    assert schema_diff(engine) == []
    with engine.connect() as conn:
        after = {t: Counter(map(tuple, conn.execute(text(first_schema_select(t))))) for t in schema.FIRST_SCHEMA}
    assert after == before
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_opening_a_new_database_at_the_same_moment(backend, request, tmp_path):
    url = f"sqlite:///{tmp_path / 'race.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def opener():
        try:
            barrier.wait()
            open_engine(url).dispose()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    engine = open_engine(url)
    assert version(engine) == schema.HEAD
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


def test_postgres_outdated_message_suggests_a_dump(postgres_url):
    engine = open_engine(postgres_url, create=False)
    schema._migrate(engine, "0001")
    with pytest.raises(SchemaOutdated, match="pg_dump"):
        open_engine(postgres_url)
    assert schema.upgrade(engine) is None  # no file to copy on PostgreSQL
    assert version(engine) == schema.HEAD
    engine.dispose()
