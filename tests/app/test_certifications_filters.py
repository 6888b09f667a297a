"""The certifications list draws stand-ins for its two filter Selects until its first rows are on
screen (a Select is six widgets to style and lay out), then the real Selects, with the same values;
the filter keys work at any moment."""

from __future__ import annotations

from helpers import running, settle
from textual.widgets import Select

from tiertui.app.screens.certifications import CertificationsScreen
from tiertui.app.widgets.select_stub import SelectStub
from tiertui.services.read import CertificationQuery
from tiertui.services.read.engine import CERT_STATUS_LABELS


async def test_the_real_selects_replace_their_stand_ins_once_the_rows_are_drawn(make_app):
    app = make_app()
    async with running(app, "c") as pilot:
        screen = app.screen
        assert isinstance(screen, CertificationsScreen)
        assert not screen.query(SelectStub)
        track, status = screen.query_one("#track", Select), screen.query_one("#status", Select)
        assert track.value is Select.NULL and status.value is Select.NULL
        assert len(track._options) > 1  # the tracks there are (and the prompt)
        await pilot.press("f")
        await settle(pilot)
        assert app.focused is track


async def test_a_list_opened_with_a_status_shows_it_before_and_after_the_selects_come(make_app):
    """The dashboard's "certs expiring ≤ 90 days" opens the list with that status: the stand-in says
    so in the first frame, and the real Select holds the same value."""
    app = make_app()
    async with running(app) as pilot:
        screen = CertificationsScreen(CertificationQuery(status="expiring90"))
        await app.push_screen(screen)
        stub_labels = [stub.label for stub in screen.query(SelectStub)]
        await settle(pilot)
        assert stub_labels == ["Track: any", CERT_STATUS_LABELS["expiring90"]]  # the first frame's stand-ins
        assert screen.query_one("#status", Select).value == "expiring90"
        assert screen.cert_query.status == "expiring90"


async def test_x_clears_the_filters_even_before_the_selects_are_mounted(make_app):
    app = make_app()
    async with running(app) as pilot:
        screen = CertificationsScreen(CertificationQuery(status="expired"))
        await app.push_screen(screen)
        await pilot.press("x")  # at once: the stand-ins may still be there
        await settle(pilot)
        assert screen.query_one("#status", Select).value is Select.NULL
        assert screen.cert_query == CertificationQuery()
