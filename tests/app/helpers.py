"""Shared pilot helpers for the app tests."""

from __future__ import annotations

import asyncio


async def settle(pilot) -> None:
    """Let workers finish, their reports (messages) be handled, and the screen repaint: until a
    round starts no worker (a report may start another: a page of rows, the rest of a list)."""
    await pilot.pause()
    for _ in range(10):
        await pilot.app.workers.wait_for_complete()
        await asyncio.sleep(0.01)  # a worker's report (a message from its thread) is in the queue
        await pilot.pause()
        if not any(w.is_running for w in pilot.app.workers):
            await pilot.pause()
            if not any(w.is_running for w in pilot.app.workers):
                break
    await asyncio.sleep(0.02)  # a last report from a thread
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
    await pilot.press("ctrl+p", *words)
    for _ in range(40):
        await asyncio.sleep(0.05)
        await pilot.pause()
        options = pilot.app.screen.query("CommandList")
        if options and options.first().option_count:
            break
    await pilot.press("down", "enter")
    await settle(pilot)
