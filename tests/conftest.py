"""Shared test fixtures. Modules keep their own specialised fixtures to themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiertui.storage import open_engine

from db_builder import postgres_database, seat_team

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
