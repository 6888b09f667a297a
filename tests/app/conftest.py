"""Fixtures for the app tests: a small, deterministic, levelled database.

Built once per session (fixed seed) into a template file, then copied for every test so
tests that write (approve, reject, request) never see each other's changes.
"""

from __future__ import annotations

import random
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from db_builder import postgres_database, seat_team
from sqlmodel import Session

from tiertui.scoring import parse_program
from tiertui.services import overrides
from tiertui.services.levelling import run_levelling
from tiertui.services.programs import store_program
from tiertui.storage import Certification, MetricValue, Partner, open_engine

HERE = Path(__file__).resolve().parent
TODAY = date(2026, 1, 15)
PERIODS = ("2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4")
REGIONS = ("EMEA", "NA", "LATAM", "APAC")
TYPES = ("Reseller", "MSP", "Distributor")
MANAGERS = ("Ana Ruiz", "Ben Okafor", "Chloe Martin", "Dev Patel")
WORDS = (
    "Acme",
    "Blue",
    "Cedar",
    "Delta",
    "Echo",
    "Falcon",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Meridian",
    "Nimbus",
    "Orion",
    "Pioneer",
    "Quartz",
    "Summit",
)
SUFFIX = ("Systems", "Networks", "Solutions", "IT", "Partners", "Cloud", "Digital")


def build(url: str, partners: int = 120, seed: int = 7) -> None:
    rng = random.Random(seed)
    engine = open_engine(url)
    seat_team(engine)  # dave (the default user here) is an admin, alice and bob approvers, ...
    program = parse_program((HERE / "program.toml").read_text(), "program.toml")
    store_program(engine, program, "setup", "program.toml")
    with Session(engine) as session, session.begin():
        rows = []
        for i in range(1, partners + 1):
            pid = f"P{i:05d}"
            parent = None
            if i > 10 and rng.random() < 0.12:
                parent = f"P{rng.randint(1, 10):05d}"
            name = f"{WORDS[i % len(WORDS)]} {SUFFIX[(i // 2) % len(SUFFIX)]} {i}"
            tier = rng.choice(("Authorized", "Authorized", "Silver", "Gold", "Platinum"))
            rows.append(
                Partner(
                    partner_id=pid,
                    name=name,
                    region=REGIONS[i % 4],
                    country="",
                    partner_type=TYPES[i % 3],
                    parent_id=parent,
                    account_manager=MANAGERS[(i // 3) % 4],
                    tier=tier,
                    tier_since=date(2024, 1, 1),
                )
            )
        session.add_all(rows)
        session.flush()
        keys = [p.key for p in rows]
        for k, key in enumerate(keys):
            base = rng.uniform(0.05, 1.1)
            for _j, period in enumerate(PERIODS):
                drift = base * (1 + rng.uniform(-0.25, 0.25))
                session.add(
                    MetricValue(
                        period=period, metric="revenue", partner_key=key, value=round(2_000_000 * drift * 0.9, 0)
                    )
                )
                session.add(MetricValue(period=period, metric="deals", partner_key=key, value=float(int(45 * drift))))
                session.add(
                    MetricValue(
                        period=period,
                        metric="csat",
                        partner_key=key,
                        value=float(min(100, int(60 + 40 * rng.random()))),
                    )
                )
                session.add(
                    MetricValue(period=period, metric="escalations", partner_key=key, value=float(rng.randint(0, 14)))
                )
            for c in range(rng.randint(0, 5)):
                track = rng.choice(("sales", "sales", "tech"))
                earned = date(2023, 1, 1) + timedelta(days=rng.randint(0, 900))
                expires = None if rng.random() < 0.2 else earned + timedelta(days=rng.choice((365, 540, 730)))
                session.add(
                    Certification(
                        partner_key=key,
                        person=f"person{k}-{c}",
                        certification=f"{track.title()} Pro",
                        track=track,
                        earned_on=earned,
                        expires_on=expires,
                    )
                )
    run_levelling(engine, "setup")
    overrides.request(engine, "alice", "P00003", "Gold", "Strategic launch partner", date(2025, 10, 1))
    overrides.request(
        engine, "bob", "P00007", "Platinum", "Signed enterprise agreement", date(2025, 10, 1), date(2026, 12, 31)
    )
    overrides.request(engine, "carol", "P00012", "Silver", "Merger pending", date(2025, 7, 1))
    engine.dispose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "app.db"
    build(f"sqlite:///{path}")
    return path


@pytest.fixture
def app_db(request) -> str:
    """The database the app tests run on: a SQLite file, or with
    ``@pytest.mark.parametrize("app_db", ["sqlite", "postgresql"], indirect=True)`` both."""
    kind = getattr(request, "param", "sqlite")
    return request.getfixturevalue({"sqlite": "sqlite_app_db", "postgresql": "pg_app_db"}[kind])


@pytest.fixture
def sqlite_app_db(template_db: Path, tmp_path: Path) -> str:
    target = tmp_path / "app.db"
    shutil.copy(template_db, target)
    for suffix in ("-wal", "-shm"):
        extra = Path(str(template_db) + suffix)
        if extra.exists():
            shutil.copy(extra, Path(str(target) + suffix))
    return f"sqlite:///{target}"


@pytest.fixture(scope="session")
def pg_template():
    """The same test database on PostgreSQL, built once per session (per xdist worker) as a template
    database: (server URL, its name); None when no server URL is given (TIERTUI_TEST_POSTGRES_URL)."""
    import os

    base = os.environ.get("TIERTUI_TEST_POSTGRES_URL")
    if not base:
        yield None
        return
    with postgres_database(base, "tiertui_app_template") as (url, name):
        build(url)
        yield base, name


@pytest.fixture
def pg_app_db(pg_template) -> str:
    """A private copy of the app test database on PostgreSQL (CREATE DATABASE ... TEMPLATE); skips
    only when no server URL is given, and fails when one is given but unreachable."""
    if pg_template is None:
        pytest.skip("TIERTUI_TEST_POSTGRES_URL is not set")
    base, template = pg_template
    with postgres_database(base, "tiertui_app", template=template) as (url, _name):
        yield url


@pytest.fixture
def make_app(app_db: str, tmp_path: Path):
    """A factory: ``make_app(user="alice")`` gives a TiertuiApp on a fresh copy of the test DB."""
    from tiertui.app import TiertuiApp

    def factory(user: str = "dave", **kwargs):
        kwargs.setdefault("config_dir", tmp_path / "config")
        return TiertuiApp(app_db, user, today=TODAY, blink=False, **kwargs)

    return factory


def pytest_pyfunc_call(pyfuncitem):
    """Run ``async def`` tests (Pilot tests) on a fresh event loop; no async plugin needed."""
    import asyncio
    import inspect

    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        kwargs = {name: pyfuncitem.funcargs[name] for name in names}
        asyncio.run(pyfuncitem.obj(**kwargs))
        return True
    return None
