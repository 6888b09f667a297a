"""Run tiertui's benchmarks on a cached demo database.

    .venv/bin/python benchmarks/run.py [--partners 100000] [--runs 3] [--only level] [--rebuild]

The demo database is built once per size and seed under benchmarks/out/ (git-ignored) and reused.
Every ``bench_*.py`` module next to this file registers its benchmarks (see registry.py).
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from registry import BENCHMARKS, BUILDER, Context, Figure  # noqa: E402


def demo_database(partners: int, seed: int, out: Path, rebuild: bool = False) -> Path:
    """The cached demo database for this size and seed, built when missing (or asked to)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"demo-{partners}-seed{seed}.db"
    if path.exists() and not rebuild and _partner_count(path) == partners:
        print(f"Reusing {path}")
        return path
    from tiertui.services.demo import build_demo
    from tiertui.storage import open_engine

    building = path.with_suffix(".building.db")
    for stale in (building, *_sidecars(building), path, *_sidecars(path)):
        stale.unlink(missing_ok=True)
    print(f"Building a demo database with {partners:,} partners (seed {seed}) ...", flush=True)
    started = time.perf_counter()
    engine = open_engine(f"sqlite:///{building}")
    try:
        report = build_demo(engine, partners=partners, seed=seed, user=BUILDER)
    finally:
        engine.dispose()
    with sqlite3.connect(building) as connection:  # fold the WAL in, so one file is the whole database
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for sidecar in _sidecars(building):
        sidecar.unlink(missing_ok=True)
    building.rename(path)
    print(
        f"Built in {time.perf_counter() - started:.1f} s: {report.metric_values:,} metric values, "
        f"{report.certifications:,} certifications"
    )
    return path


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


def _partner_count(path: Path) -> int:
    try:
        with sqlite3.connect(path) as connection:
            return connection.execute("SELECT COUNT(*) FROM partner").fetchone()[0]
    except sqlite3.Error:
        return -1


def load_benchmarks() -> None:
    for module in sorted(HERE.glob("bench_*.py")):
        importlib.import_module(module.stem)


def print_table(figures: list[Figure]) -> None:
    width = max(len(f.name) for f in figures)
    print(f"\n{'figure':<{width}}  {'median':>10}  {'unit':<4}  {'target':>8}  {'verdict':<11}  runs")
    for f in figures:
        target = "" if f.target is None else f"<= {f.target:g}" if not f.higher_is_better else f">= {f.target:g}"
        samples = ", ".join(f"{s:.2f}" for s in f.samples)
        print(f"{f.name:<{width}}  {f.value:>10.2f}  {f.unit:<4}  {target:>8}  {f.verdict:<11}  {samples}")


def main(argv: list[str] | None = None) -> int:
    load_benchmarks()
    parser = argparse.ArgumentParser(description="Run tiertui's benchmarks on a cached demo database.")
    parser.add_argument("--partners", type=int, default=100_000, help="demo size (default 100,000)")
    parser.add_argument("--seed", type=int, default=2026, help="demo seed (default 2026)")
    parser.add_argument("--runs", type=int, default=3, help="repeats per benchmark; medians are reported")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached demo database")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="cache folder (default benchmarks/out)")
    args = parser.parse_args(argv)
    db_path = demo_database(args.partners, args.seed, args.out, args.rebuild)
    ctx = Context(args.partners, args.seed, args.runs, db_path, args.out)
    figures: list[Figure] = []
    for name in args.only or sorted(BENCHMARKS):
        print(f"Running {name}: {BENCHMARKS[name].description} ({args.runs} runs) ...", flush=True)
        figures += BENCHMARKS[name].function(ctx)
    print_table(figures)
    return 1 if any(f.verdict == "OVER TARGET" for f in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
