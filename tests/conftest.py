"""Shared test fixtures. Modules keep their own specialised fixtures to themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from db_builder import postgres_database, seat_team

from tiertui.storage import open_engine

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tiertui.db'}"


@pytest.fixture
def engine(db_url: str):
    engine = open_engine(db_url)
    seat_team(engine)
    yield engine
    engine.dispose()


POSTGRES_ENV = "TIERTUI_TEST_POSTGRES_URL"


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database for one test; dropped afterwards.

    Skips only when no server URL is given; a given but unreachable server fails the test.
    """
    import os

    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    with postgres_database(base) as (url, _name):
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request, tmp_path):
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tiertui.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = open_engine(url)
    seat_team(engine)
    yield engine
    engine.dispose()


def pytest_collection_modifyitems(config, items) -> None:
    """Markers by kind, so that ``pytest -m "not slow"`` is the quick loop.

    - ``slow``: everything under ``tests/system`` (real processes: the CLI, PTYs, SIGKILL,
      concurrency, benchmarks);
    - ``pty``: tests that drive a real pseudo-terminal;
    - ``postgres``: tests that use a PostgreSQL database (through ``postgres_url`` or
      ``any_engine``'s PostgreSQL side).
    """
    for item in items:
        path = Path(str(item.fspath))
        if "system" in path.parent.parts[-1:]:
            item.add_marker(pytest.mark.slow)
        if "pty" in path.stem:
            item.add_marker(pytest.mark.pty)
        fixtures = getattr(item, "fixturenames", ())
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and any(
            v == "postgresql" for v in callspec.params.values() if isinstance(v, str)
        )
        if "postgres_url" in fixtures or on_postgres:
            item.add_marker(pytest.mark.postgres)
