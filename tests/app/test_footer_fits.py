"""The footer's keys fit on its one line at 80 and 120 columns on every screen: none cut off, none
under the command palette's key, the help key always there (saying "All keys" when some are not
shown), and more keys once the terminal is wider."""

from __future__ import annotations

import pytest
from helpers import settle
from textual.widgets._footer import FooterKey

SCREENS = ("dashboard", "partners", "overrides", "certifications", "audit", "whatif", "scorecard")


async def _open(pilot, screen: str) -> None:
    app = pilot.app
    await settle(pilot)
    if screen == "scorecard":
        app.open_scorecard("P00007")
    elif screen != "dashboard":
        await app.run_action(screen)
    await settle(pilot)
    await pilot.pause(0.6)  # a footer that waits for the first data shows its keys after at most 0.5 s
    await settle(pilot)


def _footer(app) -> tuple[list[FooterKey], FooterKey]:
    keys = [k for k in app.screen.query(FooterKey) if k.is_attached and "-command-palette" not in k.classes]
    (palette,) = [k for k in app.screen.query(FooterKey) if "-command-palette" in k.classes]
    return keys, palette


def _check_fits(app, width: int) -> list[FooterKey]:
    keys, palette = _footer(app)
    assert keys, app.screen
    for key in keys:  # whole, on the one line, and left of the palette's key
        region = key.region
        assert region.width == key.get_content_width(key.size, key.size), (key.key, region)
        assert region.right <= palette.region.x and region.right <= width, (app.screen, key.key, region, palette.region)
    assert any(k.key in ("question_mark", "?") or k.action == "help" for k in keys), app.screen
    assert palette.region.right <= width
    return keys


@pytest.mark.parametrize("screen", SCREENS)
async def test_footer_fits_at_80_and_120(make_app, screen):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, screen)
        narrow = _check_fits(app, 80)
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        await pilot.pause(0.2)
        await settle(pilot)
        wide = _check_fits(app, 120)
        assert len(wide) >= len(narrow)
        shown = {k.action for k in narrow}
        help_key = next(k for k in wide if k.action == "help")
        assert shown <= {k.action for k in wide}
        # the help key says there is more exactly when some active key is not shown
        hidden = [
            b
            for key, (_node, b, _enabled, _tip) in app.screen.active_bindings.items()
            if b.show and b.action not in {k.action for k in wide} and key != app.COMMAND_PALETTE_BINDING
        ]
        assert (help_key.description == "All keys") == bool(hidden), hidden


async def test_scorecard_at_80_keeps_its_own_keys_first(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "scorecard")
        keys = [k.description for k in _footer(app)[0]]
        assert keys[:4] == ["Prev period", "Next period", "Why moved", "Copy"] and keys[-1] == "All keys"
