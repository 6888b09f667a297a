"""What-if re-evaluation after an edit, next to a full `tiertui level`.

    .venv/bin/python benchmarks/bench_whatif.py --partners 100000 [--edits 20] [--seed 2026] [--db PATH] [--no-level]
    .venv/bin/python benchmarks/run.py --only whatif          (registered like every bench_*.py)

Opens a ScenarioSession on the cached demo database (built by run.py's demo_database when
missing), then makes ``--edits`` successive edits of the program (a threshold, min_score,
points, target or grace, each scaled a little), and after each edit re-evaluates the latest
period: ``apply_edit`` + ``parse_program`` + ``ScenarioSession.evaluate``, which is what the app
does on every keystroke that changes a value. The median of those is the figure with the
target (<= 50 ms for 100,000 partners). Building the movers' reasons is timed apart (the app asks
for them only to show the list), and so is one full `tiertui level` subprocess for comparison.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from registry import Context, Figure, benchmark, median  # noqa: E402

TARGET_MS = 50.0
EDITABLE = ("grace_periods", "points", "target", "min_score", "gate", "maximum")
FACTORS = (0.85, 0.9, 0.95, 1.05, 1.1, 1.2)


def measure(url: str, edits: int = 20, seed: int = 1, level_runs: int = 1) -> list[Figure]:
    from tiertui.scoring import parse_program
    from tiertui.services import scenarios
    from tiertui.storage import open_engine

    engine = open_engine(url)
    try:
        started = time.perf_counter()
        session = scenarios.ScenarioSession.open(engine)
        open_s = time.perf_counter() - started
        n, period = session.n, session.periods[-1]
        rng = random.Random(seed)
        text = session.base_text
        evaluate_ms, movers_ms, moved = [], [], []
        for _ in range(edits):
            knob = rng.choice([k for k in scenarios.editable_values(text) if k.kind in EDITABLE and k.value])
            if knob.kind == "grace_periods":
                value = rng.choice([v for v in (0, 1, 2, 3) if v != knob.value])
            else:
                value = round(knob.value * rng.choice(FACTORS), 4)
            started = time.perf_counter()
            text = scenarios.apply_edit(text, knob, value)
            result = session.evaluate(parse_program(text, "scenario"), period)
            evaluate_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            moved.append(len(result.movers))
            movers_ms.append((time.perf_counter() - started) * 1000)
            print(
                f"  {knob.label} -> {value:g}: {evaluate_ms[-1]:.1f} ms, "
                f"{moved[-1]:,} movers with reasons in {movers_ms[-1]:.1f} ms",
                flush=True,
            )
    finally:
        engine.dispose()
    figures = [
        Figure(
            f"whatif: re-evaluate {period} after an edit ({n:,} partners)",
            median(evaluate_ms),
            "ms",
            target=TARGET_MS,
            samples=tuple(evaluate_ms),
        ),
        Figure(
            f"whatif: movers with reasons (median {median(moved):,.0f} movers)",
            median(movers_ms),
            "ms",
            samples=tuple(movers_ms),
        ),
        Figure("whatif: open a session (read inputs once, baseline)", open_s, "s", samples=(open_s,)),
    ]
    if level_runs:
        from bench_level import level_once

        level_s = [level_once(url)[0] for _ in range(level_runs)]
        figures.append(
            Figure("whatif: for comparison, a full `tiertui level`", median(level_s), "s", samples=tuple(level_s))
        )
    return figures


@benchmark("whatif", "re-evaluate a what-if scenario after each of 20 edits, next to a full `tiertui level`")
def whatif(ctx: Context) -> list[Figure]:
    return measure(ctx.url, edits=20, level_runs=1)


def measure_version(url: str, edits: int = 20, seed: int = 1) -> list[Figure]:
    """(v2 §3.11) A what-if of a new program version on the demo: its 2026 version (two versions in
    force, protection, six designations) edited ``edits`` times (a threshold, min_score, points or
    target of the new version, or its protect_through), each followed by
    ``VersionSession.evaluate``: every governed period with and without the protection."""
    from tiertui.scoring import parse_program
    from tiertui.services import scenarios
    from tiertui.services.demo import demo_program_2026
    from tiertui.storage import open_engine

    engine = open_engine(url)
    try:
        started = time.perf_counter()
        session = scenarios.VersionSession.open(engine)
        open_s = time.perf_counter() - started
        rng = random.Random(seed)
        text = demo_program_2026().source
        kinds = ("points", "target", "min_score", "gate")
        evaluate_ms, headline = [], ""
        for _ in range(edits):
            knob = rng.choice([k for k in scenarios.editable_values(text) if k.kind in kinds and k.value])
            value = round(knob.value * rng.choice(FACTORS), 4)
            started = time.perf_counter()
            edited = scenarios.apply_edit(text, knob, value)
            result = session.evaluate(parse_program(edited, "scenario"))
            evaluate_ms.append((time.perf_counter() - started) * 1000)
            headline = result.headline()
            print(f"  {knob.label} -> {value:g}: {evaluate_ms[-1]:.1f} ms  {headline}", flush=True)
    finally:
        engine.dispose()
    return [
        Figure(
            f"whatif-version: re-evaluate a new version with and without protection ({session.n:,} partners)",
            median(evaluate_ms),
            "ms",
            target=TARGET_MS,
            samples=tuple(evaluate_ms),
        ),
        Figure("whatif-version: open a session (read inputs once, baseline)", open_s, "s", samples=(open_s,)),
    ]


@benchmark("whatif-version", "re-evaluate a what-if of a new program version (protection, designations) after 20 edits")
def whatif_version(ctx: Context) -> list[Figure]:
    return measure_version(ctx.url, edits=20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="What-if re-evaluation after an edit, next to `tiertui level`.")
    parser.add_argument("--partners", type=int, default=100_000, help="demo size (default 100,000)")
    parser.add_argument("--seed", type=int, default=2026, help="demo seed (default 2026, as run.py)")
    parser.add_argument("--edits", type=int, default=20, help="edits to time (default 20)")
    parser.add_argument("--db", type=Path, help="use this SQLite database instead of the cached demo")
    parser.add_argument("--no-level", action="store_true", help="skip the full `tiertui level` comparison")
    args = parser.parse_args(argv)
    if args.db:
        path = args.db
    else:
        from run import demo_database

        path = demo_database(args.partners, args.seed, HERE / "out")
    figures = measure(f"sqlite:///{path}", edits=args.edits, level_runs=0 if args.no_level else 1)
    from run import print_table

    print_table(figures)
    return 1 if any(f.verdict == "OVER TARGET" for f in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
