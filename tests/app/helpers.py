"""Shared pilot helpers for the app tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

SIZE = (120, 40)  # the terminal most app tests run in


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


async def type_text(pilot, text: str) -> None:
    """Type ``text`` (a key a character, no wait between them), then settle."""
    await pilot.press(*text)
    await settle(pilot)


async def steps(pilot, *presses: str) -> None:
    """Press each key in turn, settling after each, as a user who waits for the screen between keys
    (``"type:text"`` types the text as ``type_text`` does)."""
    for key in presses:
        if key.startswith("type:"):
            await type_text(pilot, key[5:])
        else:
            await pilot.press(key)
            await settle(pilot)


@asynccontextmanager
async def running(app, *presses: str, size: tuple[int, int] = SIZE) -> AsyncIterator:
    """Run ``app`` under a pilot, let its first screen settle, then take ``presses`` as ``steps``
    does; gives the pilot."""
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await steps(pilot, *presses)
        yield pilot


def keys(*presses):
    """A run_before that lets the first screen settle, then presses keys as ``steps`` does."""

    async def run(pilot) -> None:
        await settle(pilot)
        await steps(pilot, *presses)

    return run


def config_with_keys(tmp_path: Path, text: str) -> Path:
    """A config folder whose keys.toml holds ``text``; give it to the app as ``config_dir``."""
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "keys.toml").write_text(text)
    return folder


async def palette_hits(pilot, timeout: float = 3.0):
    """The command palette's list of hits once it has some (it searches in the background)."""
    for _ in range(int(timeout / 0.05)):
        await asyncio.sleep(0.05)
        await pilot.pause()
        found = pilot.app.screen.query("CommandList")
        if found and found.first().option_count:
            return found.first()
    raise AssertionError("the palette found nothing")


async def palette_pick(pilot, words: str) -> None:
    """ctrl+p, type ``words``, wait for the palette's hits, and take the first."""
    await pilot.press("ctrl+p", *words)
    await palette_hits(pilot)
    await pilot.press("down", "enter")
    await settle(pilot)
