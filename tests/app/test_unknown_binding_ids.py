"""Unknown binding ids in keys.toml are reported in the app, with the closest known id."""

from __future__ import annotations

from helpers import config_with_keys, running, settle

from tiertui.app.config import known_binding_ids, load_config, unknown_binding_problems
from tiertui.app.screens.dashboard import DashboardScreen


def test_the_known_ids_are_those_of_the_app_its_screens_and_widgets():
    known = known_binding_ids()
    assert {"app.quit", "overrides.approve", "scorecard.next_period", "partners.search"} <= known
    assert "overides.approve" not in known


def test_each_unknown_id_is_named_with_the_closest_known_one(tmp_path):
    (tmp_path / "keys.toml").write_text(
        '[keys]\n"overides.approve" = "y"\n"partners.serch" = "f"\n"zzzz" = "z"\n"app.quit" = "ctrl+c"\n'
    )
    config = load_config(tmp_path)
    problems = unknown_binding_problems(config, known_binding_ids())
    path = tmp_path / "keys.toml"
    assert problems == [
        f"{path}: no key binding has the id 'overides.approve'; did you mean 'overrides.approve'? (it was ignored)",
        f"{path}: no key binding has the id 'partners.serch'; did you mean 'partners.search'? (it was ignored)",
        f"{path}: no key binding has the id 'zzzz' (it was ignored)",
    ]


async def test_the_app_reports_unknown_ids_after_its_first_screen_and_keeps_the_known_ones(make_app, tmp_path):
    folder = config_with_keys(tmp_path, '[keys]\n"overides.approve" = "y"\n"app.partners" = "p"\n')
    app = make_app(config_dir=folder)
    async with running(app) as pilot:
        assert isinstance(app.screen, DashboardScreen)
        said = [(n.title, n.message) for n in app._notifications]
        assert (
            "Configuration",
            f"{folder / 'keys.toml'}: no key binding has the id 'overides.approve'; "
            "did you mean 'overrides.approve'? (it was ignored)",
        ) in said
        assert not any("app.partners" in message for _, message in said)
        await pilot.press("p")  # the known id is remapped as asked
        await settle(pilot)
        assert type(app.screen).__name__ == "PartnersScreen"


async def test_no_keymap_no_check(make_app, tmp_path):
    app = make_app(config_dir=tmp_path / "none")
    async with running(app):
        assert not [n for n in app._notifications if n.title == "Configuration"]
