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
