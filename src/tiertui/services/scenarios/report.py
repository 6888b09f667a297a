"""The CLI-facing what-if: ``tiertui whatif SCENARIO.toml --period P --format text|csv|json``."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import Engine

from ..errors import ServiceError
from ..programs import read_program_file
from .result import WhatIf
from .session import ScenarioSession


def whatif(engine: Engine, scenario_path: str | Path, period: str | None = None) -> WhatIf:
    """``tiertui whatif SCENARIO.toml --period P``: the scenario file against the active program."""
    program = read_program_file(scenario_path)
    session = ScenarioSession.open(engine)
    return session.evaluate(program, period, Path(scenario_path).name)


def write_whatif(result: WhatIf, fmt_name: str, out: TextIO) -> None:
    """Write ``result`` as text, csv or json (the CLI's --format)."""
    if fmt_name == "text":
        out.write(result.text() + "\n")
    elif fmt_name == "csv":
        result.csv(out)
    elif fmt_name == "json":
        result.json(out)
    else:
        raise ServiceError(f"unknown format {fmt_name!r}: use text, csv or json")
