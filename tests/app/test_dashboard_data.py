"""Pilot tests of the dashboard's data lines and the stale-results banner."""

from __future__ import annotations

import asyncio

from helpers import settle
from sqlalchemy import text
from sqlmodel import Session
from textual.widgets import Static

from tiertui.app.screens.dashboard import DashboardScreen
from tiertui.app.screens.jobs import JobScreen
from tiertui.app.widgets.stale_banner import StaleBanner
from tiertui.services.staleness import mark_stale
from tiertui.storage import open_engine

SIZE = (120, 40)


def plain(widget: Static) -> str:
    return str(widget.render())


async def wait_for(pilot, check, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.1)):
        await settle(pilot)
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def test_completeness_of_the_latest_period_and_a_partial_period_warning(make_app, app_db):
    engine = open_engine(app_db)
    with engine.begin() as conn:  # 2025-Q4: 30 of the 120 partners reported their satisfaction
        conn.execute(text("DELETE FROM metric_value WHERE period = '2025-Q4' AND metric = 'csat' AND partner_key > 30"))
    engine.dispose()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        line = plain(app.screen.query_one("#completeness", Static))
        assert "Data for 2025-Q4: Customer satisfaction: 30 of 120 reported" in line
        assert "! 2025-Q4 looks partial: Customer satisfaction: 30 reported, 120 in 2025-Q3" in line


async def test_all_reported_says_so(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert plain(app.screen.query_one("#completeness", Static)) == (
            "Data for 2025-Q4: every metric reported by all 120 partners"
        )
        chart = plain(app.screen.query_one("#tier-mix", Static)).splitlines()
        assert chart[0].split() == [
            "░",
            "Authorized",
            "▒",
            "Silver",
            "▓",
            "Gold",
            "█",
            "Platinum",
            "▲",
            "promoted",
            "▼",
            "demoted",
        ]
        q4 = next(x for x in chart if x.strip().startswith("2025-Q4"))
        figures = {f.id: f.value for f in app.screen.query("Figure")}
        assert f"▲{figures['fig-promoted']}" in q4.replace(" ", "") and f"▼{figures['fig-demoted']}" in q4.replace(
            " ", ""
        )


async def test_stale_results_show_a_banner_until_levelled_with_L(make_app, app_db):
    engine = open_engine(app_db)
    with Session(engine) as session, session.begin():
        mark_stale(session, "metrics imported with --no-level")
    engine.dispose()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = app.screen.query_one(StaleBanner)
        await wait_for(pilot, lambda: banner.display)
        shown = plain(banner)
        assert shown.startswith("! Results are stale since ")
        assert "(metrics imported with --no-level): press L to level." in shown
        app.open_scorecard("P00007")  # every screen carries it
        await settle(pilot)
        await wait_for(pilot, lambda: app.screen.query_one(StaleBanner).display)
        await pilot.press("g", "L")
        await wait_for(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.done)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        await wait_for(pilot, lambda: not app.screen.query_one(StaleBanner).display)
