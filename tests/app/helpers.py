"""Shared pilot helpers for the app tests."""

from __future__ import annotations


async def settle(pilot) -> None:
    """Let workers finish and the screen repaint."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def keys(*presses):
    """A run_before that presses keys, settling after each."""

    async def run(pilot) -> None:
        await settle(pilot)
        for key in presses:
            if key.startswith("type:"):
                for ch in key[5:]:
                    await pilot.press(ch)
            else:
                await pilot.press(key)
            await settle(pilot)

    return run


async def palette_pick(pilot, words: str) -> None:
    """ctrl+p, type ``words``, wait (up to 2 s) for the palette's hits, and take the first."""
    import asyncio

    await pilot.press("ctrl+p", *words)
    for _ in range(40):
        await asyncio.sleep(0.05)
        await pilot.pause()
        options = pilot.app.screen.query("CommandList")
        if options and options.first().option_count:
            break
    await pilot.press("down", "enter")
    await settle(pilot)
