"""The benchmark registry: a benchmark is a function from a :class:`Context` to figures.

Add one by writing ``benchmarks/bench_<topic>.py`` with a function decorated by
``@benchmark("name", "what it measures")``; ``run.py`` imports every ``bench_*.py`` module.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BUILDER = "benchmark"  # who builds the cached demo database: its admin, so every benchmark acts as them


@dataclass(frozen=True)
class Context:
    """What every benchmark gets: the demo database to work on and how many repeats to make."""

    partners: int
    seed: int
    runs: int
    db_path: Path
    out: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db_path}"


@dataclass(frozen=True)
class Figure:
    """One measured figure; ``target`` and ``higher_is_better`` say whether it passes."""

    name: str
    value: float
    unit: str
    target: float | None = None
    higher_is_better: bool = False
    samples: tuple[float, ...] = ()

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        ok = self.value >= self.target if self.higher_is_better else self.value <= self.target
        return "ok" if ok else "OVER TARGET"


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    function: Callable[[Context], list[Figure]]


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str, description: str) -> Callable:
    """Register ``function(context) -> list[Figure]`` under ``name``."""

    def register(function: Callable[[Context], list[Figure]]) -> Callable[[Context], list[Figure]]:
        if name in BENCHMARKS:
            raise ValueError(f"benchmark {name!r} is registered twice")
        BENCHMARKS[name] = Benchmark(name, description, function)
        return function

    return register


def median(samples: list[float]) -> float:
    return statistics.median(samples)
