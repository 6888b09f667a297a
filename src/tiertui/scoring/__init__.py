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
    Lapse,
    Partners,
    PeriodResult,
    group_values,
    lapsing_people,
    level,
    level_values,
    person_codes,
    person_key,
    remaining_people,
)
from .numbers import flag_errors, round6, score_number, score_text, value_text
from .periods import Period, PeriodError, next_period, parse_period
from .program import Program, ProgramError, parse_program, program_hash, suggest
from .scorecard import (
    CheckLine,
    ComponentLine,
    Gap,
    RiskReason,
    Scorecard,
    ScoreRoute,
    explain,
    fmt,
    own_sources,
)

__all__ = [
    "EVENTS",
    "ApprovedOverride",
    "Certifications",
    "CheckLine",
    "ComponentLine",
    "EvaluationError",
    "Gap",
    "Inputs",
    "Lapse",
    "Partners",
    "Period",
    "PeriodError",
    "PeriodResult",
    "Program",
    "ProgramError",
    "RiskReason",
    "ScoreRoute",
    "Scorecard",
    "explain",
    "flag_errors",
    "fmt",
    "group_values",
    "lapsing_people",
    "level",
    "level_values",
    "next_period",
    "own_sources",
    "parse_period",
    "parse_program",
    "person_codes",
    "person_key",
    "program_hash",
    "remaining_people",
    "round6",
    "score_number",
    "score_text",
    "suggest",
    "value_text",
]
