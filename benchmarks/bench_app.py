"""The app on the demo database: start-up to the partner list, type-to-filter latency, peak memory.

Every sample runs in a fresh child process (``python bench_app.py app URL`` or ``... bare``), so
interpreter start-up, imports and cold caches count as they do for a person starting the app. The
child drives the app headless with ``App.run_test()`` (120x40) and prints what it measured:

* ``ready``: seconds from the parent spawning the child to the partner list showing rows (tiertui:
  start, the dashboard, press ``l``, the first page of rows drawn) or to the Label drawn (a bare
  Textual app, the floor any Textual app pays). The figure is the ratio of the two medians.
* ``key``: for each character typed into the partner search box, milliseconds from the key press to
  the table holding the rows of the first page of the new filter (``page_ready``: read by a worker, or
  at hand from the list before).

Both poll the app's state beside the Pilot's press rather than after it: the press returns only when
the whole process has gone idle (Textual's ``wait_for_idle`` compares CPU time with wall time, for up
to a second, twice), so awaiting it would add whatever work the app does in background threads after
the rows are on screen (opening the engine, loading the search texts), which nobody waits for.

The child's peak resident memory comes from ``os.wait4`` on that child alone. On Linux a child
started by a big parent inherits the parent's peak: when run.py has just built the demo database in
this process, the memory figure is inflated (~830 MiB at 100,000); run again on the cached database.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

from registry import BUILDER, Context, Figure, benchmark, median

SIZE = (120, 40)
# typed one character at a time; each word is cleared (ctrl+u) before the next
WORDS = ("harbor", "nordic", "tele", "p0012", "summit")


def _child(args: list[str]) -> dict:
    """Run one child; its measurements and its peak memory (bytes)."""
    command = [sys.executable, os.path.abspath(__file__), repr(time.time()), *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _pid, status, usage = os.wait4(process.pid, 0)
    out, err = process.stdout.read(), process.stderr.read()
    process.stdout.close()
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench_app child {args} failed: {err.strip()[-2000:]}")
    result: dict = {"keys": []}
    for line in out.splitlines():
        if line.startswith("BENCH "):
            _, name, value = line.split()
            if name == "key":
                result["keys"].append(float(value))
            else:
                result[name] = float(value)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    result["rss"] = usage.ru_maxrss * scale
    return result


@benchmark("app", "the TUI headless: start to partner list vs a bare Textual app, type-to-filter, memory")
def app(ctx: Context) -> list[Figure]:
    _child(["bare"])  # warm the page cache for the interpreter and Textual before timing anything
    _child(["app", ctx.url])
    app_s, bare_s, keys_ms, memory = [], [], [], []
    for _ in range(ctx.runs):
        bare_s.append(_child(["bare"])["ready"])
        result = _child(["app", ctx.url])
        app_s.append(result["ready"])
        keys_ms += result["keys"]
        memory.append(result["rss"])
    ratios = [a / b for a, b in zip(app_s, bare_s)]
    return [
        Figure("app: start to partner list (tiertui)", median(app_s), "s", samples=tuple(app_s)),
        Figure("app: start to Label drawn (bare Textual)", median(bare_s), "s", samples=tuple(bare_s)),
        Figure(
            "app: ratio start tiertui / bare Textual",
            median(app_s) / median(bare_s),
            "x",
            target=1.5,
            samples=tuple(ratios),
        ),
        Figure(
            f"app: type-to-filter, key to list (median of {len(keys_ms)})", median(keys_ms), "ms", target=30, samples=()
        ),
        Figure("app: type-to-filter, key to list (90th pct)", _percentile(keys_ms, 0.9), "ms"),
        Figure(
            "app: peak memory of the app process",
            median(memory) / 2**20,
            "MiB",
            target=300,
            samples=tuple(m / 2**20 for m in memory),
        ),
    ]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --------------------------------------------------------------------------- the child


async def _until(condition, timeout: float = 60.0, step: float = 0.001) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(step)


async def _bare(spawned: float) -> None:
    from textual.app import App
    from textual.widgets import Label

    class Bare(App):
        def compose(self):
            yield Label("Hello")

    bare = Bare()
    async with bare.run_test(size=SIZE) as pilot:
        label = bare.query_one(Label)
        await _until(lambda: label.region.height > 0 and bare.screen.is_mounted)
        await pilot.pause()  # one more refresh: the Label is drawn
        print(f"BENCH ready {time.time() - spawned:.6f}", flush=True)


async def _app(spawned: float, url: str) -> None:
    from tiertui.app import TiertuiApp
    from tiertui.app.screens.partners import PartnersScreen
    from tiertui.app.widgets import VirtualTable

    def partner_table() -> VirtualTable | None:
        """The partner list's table once the screen is up and has drawn its first rows."""
        if not isinstance(tui.screen, PartnersScreen):
            return None
        tables = tui.screen.query(VirtualTable)  # empty until the screen has mounted its widgets
        table = tables.first() if tables else None
        return table if table is not None and table.row_count > 0 and table.page_ready(0) else None

    tui = TiertuiApp(url, BUILDER, blink=False)
    async with tui.run_test(size=SIZE) as pilot:
        # as a person does: `l` once the first screen is up (a key sent before it may go nowhere)
        await _until(lambda: type(tui.screen).__name__ == "DashboardScreen" and tui.screen.is_mounted)
        pressing = asyncio.create_task(pilot.press("l"))  # polled beside: see the docstring
        await _until(lambda: partner_table() is not None)
        print(f"BENCH ready {time.time() - spawned:.6f}", flush=True)
        await pressing
        table = partner_table()

        screen = tui.screen
        await pilot.press("slash")
        await pilot.pause()
        for word in WORDS:
            typed = ""
            for char in word:
                typed += char
                started = time.perf_counter()
                # the Pilot's press waits for the app to go idle (~100 ms of its own): poll beside it
                pressing = asyncio.create_task(pilot.press(char))
                await _until(
                    lambda typed=typed: (
                        screen.partner_query.text == typed
                        and not table.loading_rows
                        and (table.row_count == 0 or table.page_ready(0))
                    )
                )
                print(f"BENCH key {(time.perf_counter() - started) * 1000:.3f}", flush=True)
                await pressing
            await pilot.press("ctrl+u")
            await _until(lambda: screen.partner_query.text == "" and not table.loading_rows)
        print(f"BENCH rows {table.row_count}", flush=True)


if __name__ == "__main__":
    spawned_at = float(sys.argv[1])
    if sys.argv[2] == "bare":
        asyncio.run(_bare(spawned_at))
    else:
        asyncio.run(_app(spawned_at, sys.argv[3]))
