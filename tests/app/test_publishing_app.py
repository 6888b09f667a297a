"""The app's side of issue 15: periods published or provisional, publishing from the dashboard,
what was notified, and a partner's page written from the scorecard."""

from __future__ import annotations

import pytest
from helpers import settle
from textual.widgets import OptionList, Static

from tiertui.app.screens.dashboard import DashboardScreen
from tiertui.app.screens.periods import PeriodsScreen
from tiertui.app.screens.scorecard import ScorecardScreen
from tiertui.services import notify, publishing

SIZE = (120, 40)


def pytest_generate_tests(metafunc):
    if "app_db" in metafunc.fixturenames:
        metafunc.parametrize("app_db", ["sqlite", "postgresql"], indirect=True)


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_publish_from_the_dashboard_as_an_approver(make_app):
    app = make_app(user="alice")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("P")
        await settle(pilot)
        assert isinstance(app.screen, PeriodsScreen)
        options = app.screen.query_one("#period-list", OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels[0].startswith("2025-Q4") and all("provisional" in label for label in labels)
        await pilot.press("down", "p")  # the second newest: 2025-Q3 and every period before it
        await settle(pilot)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert "provisional" in labels[0] and all("published" in label for label in labels[1:])
        assert "2025-Q3  published" in _text(app.screen, "#period-detail")
        assert "No notifications sent" in _text(app.screen, "#period-detail")
    with app.engine.connect() as conn:
        assert publishing.published_set(conn) == {"2025-Q1", "2025-Q2", "2025-Q3"}


async def test_a_manager_is_told_why_publishing_is_refused(make_app):
    app = make_app(user="mia")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert "mia is a manager; publishing periods needs the approver role" in _text(app.screen, "#period-detail")
    with app.engine.connect() as conn:
        assert publishing.published_set(conn) == set()


async def test_the_dialog_lists_what_was_notified(make_app, tmp_path):
    app = make_app(user="alice")
    publishing.publish(app.engine, "alice", "2025-Q4")
    with app.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE partner SET contact_email = 'c' || partner_id || '@example.com'")
    result = notify.notify(app.engine, "alice", "2025-Q4", notify.OutboxChannel(tmp_path / "out"))
    assert result.sent_partners > 0
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        detail = _text(app.screen, "#period-detail")
        assert f"Notified: {result.sent_partners} partner e-mails" in detail
        first = notify.sent(app.engine, "2025-Q4")[0]
        assert first.address in detail


async def test_scorecard_marks_provisional_and_writes_the_partner_page(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(ScorecardScreen("P00003"))
        await settle(pilot)
        assert "Provisional: 2025-Q4 is not published yet" in _text(app.screen, "#publish-state")
        await pilot.press("R")
        await settle(pilot)
        page = tmp_path / "data" / "tiertui" / "scorecards" / "2025-Q4" / "P00003.html"
        assert page.is_file() and 'id="tier"' in page.read_text(encoding="utf-8")
        assert any(str(page) in str(n.message) for n in app._notifications)
    publishing.publish(app.engine, "alice", "2025-Q4")
    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        again.push_screen(ScorecardScreen("P00003"))
        await settle(pilot)
        assert "2025-Q4 is published" in _text(again.screen, "#publish-state")


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("TIERTUI_MAIL_FROM", "program@example.com")
