"""The scoring module: program rules and numbers in, scorecards out.

Pure: no database, no user interface. This package is the only place where the
evaluation semantics of ``levelling.md`` §3 live; the CLI, the app and the what-if
scenarios all call it.
"""

from .evaluate import (
    EVENTS,
    ApprovedOverride,
    Certifications,
    EvaluationError,
    Inputs,
    Partners,
    PeriodResult,
    group_values,
    level,
    level_values,
)
from .periods import Period, PeriodError, next_period, parse_period
from .program import Program, ProgramError, parse_program, program_hash, suggest
from .scorecard import CheckLine, ComponentLine, Gap, Scorecard, explain, fmt

__all__ = [
    "EVENTS",
    "ApprovedOverride",
    "Certifications",
    "CheckLine",
    "ComponentLine",
    "EvaluationError",
    "Gap",
    "Inputs",
    "Partners",
    "Period",
    "PeriodError",
    "PeriodResult",
    "Program",
    "ProgramError",
    "Scorecard",
    "explain",
    "fmt",
    "group_values",
    "level",
    "level_values",
    "next_period",
    "parse_period",
    "parse_program",
    "program_hash",
    "suggest",
]
