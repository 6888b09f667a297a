"""The CLI-facing what-if: ``tiertui whatif SCENARIO.toml --period P --format text|csv|json``."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import Engine

from ..errors import ServiceError
from ..programs import read_program_file
from .result import WhatIf
from .session import ScenarioSession
from .versions import VersionSession, VersionWhatIf


def whatif(engine: Engine, scenario_path: str | Path, period: str | None = None) -> WhatIf | VersionWhatIf:
    """``tiertui whatif SCENARIO.toml --period P``: the scenario file against the active program;
    (v2 §3.11) a scenario with ``effective_from`` is a new version: compared, for the periods it
    would govern, with the versions in force, with and without its protection."""
    program = read_program_file(scenario_path)
    if program.effective_from is not None:
        if period is not None:
            raise ServiceError(
                "a scenario with effective_from is compared over every period it would govern: leave out --period"
            )
        return VersionSession.open(engine).evaluate(program, Path(scenario_path).name)
    session = ScenarioSession.open(engine)
    return session.evaluate(program, period, Path(scenario_path).name)


def write_whatif(result: WhatIf | VersionWhatIf, fmt_name: str, out: TextIO) -> None:
    """Write ``result`` as text, csv or json (the CLI's --format)."""
    if fmt_name == "text":
        out.write(result.text() + "\n")
    elif fmt_name == "csv":
        result.csv(out)
    elif fmt_name == "json":
        result.json(out)
    else:
        raise ServiceError(f"unknown format {fmt_name!r}: use text, csv or json")
