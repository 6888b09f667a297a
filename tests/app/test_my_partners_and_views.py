"""m lists the partners the acting person manages; V saves the list's filter and sort under a name
(views.toml beside keys.toml), and the palette reopens it."""

from __future__ import annotations

from helpers import palette_pick, settle

from tiertui.app.screens.dialogs import PromptScreen
from tiertui.app.screens.partners import PartnersScreen
from tiertui.app.views import load_views
from tiertui.app.widgets import VirtualTable
from tiertui.services import roles
from tiertui.services.read import PartnerQuery
from tiertui.storage import open_engine

SIZE = (120, 40)


def rows(table: VirtualTable) -> list:
    return table.fetch([int(i) for i in table.ids])


async def test_m_lists_my_partners(make_app, app_db):
    engine = open_engine(app_db)
    try:
        roles.add(engine, "setup", "Ana Ruiz", "viewer")
    finally:
        engine.dispose()
    app = make_app(user="Ana Ruiz")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PartnersScreen) and "My partners" in screen.title
        found = rows(screen.query_one(VirtualTable))
        assert found and all(r.account_manager == "Ana Ruiz" for r in found)


async def test_save_a_view_and_reopen_it_from_the_palette(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        await pilot.press("S")  # sort by ID, descending
        await settle(pilot)
        app.screen.run_query(PartnerQuery(region="EMEA", sort="partner_id", descending=True))
        await settle(pilot)
        await pilot.press("V")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"emea", "enter")
        await settle(pilot)
        views = load_views(tmp_path / "config")
        assert views == {"emea": PartnerQuery(region="EMEA", sort="partner_id", descending=True)}
        assert (tmp_path / "config" / "views.toml").exists()
        await pilot.press("g")
        await settle(pilot)
        await palette_pick(pilot, "view: emea")
        screen = app.screen
        assert isinstance(screen, PartnersScreen) and "emea" in screen.title
        found = rows(screen.query_one(VirtualTable))
        assert found and all(r.region == "EMEA" for r in found)
        ids = [r.partner_id for r in found]
        assert ids == sorted(ids, reverse=True)
