"""Shared test fixtures. Modules keep their own specialised fixtures to themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiertui.storage import open_engine

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tiertui.db'}"


@pytest.fixture
def engine(db_url: str):
    engine = open_engine(db_url)
    yield engine
    engine.dispose()
