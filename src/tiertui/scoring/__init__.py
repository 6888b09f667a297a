"""The scoring module: program rules and numbers in, scorecards out.

Pure: no database, no user interface. This package is the only place where the
evaluation semantics of ``levelling.md`` §3 live; the CLI, the app and the what-if
scenarios all call it.

Names are loaded on first use (PEP 562): ``from tiertui.scoring import score_text`` loads only
:mod:`.numbers`, so the app's first screen formats scores without numpy; levelling loads the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        level_timeline,
        level_values,
        person_codes,
        person_key,
        remaining_people,
        tier_map,
        timeline_values,
        unmapped_tiers,
        version_of_periods,
    )
    from .numbers import flag_errors, round6, score_number, score_text, value_text
    from .periods import Period, PeriodError, next_period, parse_period
    from .program import (
        Designation,
        Program,
        ProgramError,
        Transition,
        parse_program,
        program_hash,
        sort_timeline,
        suggest,
        timeline_after_load,
    )
    from .scorecard import (
        CheckLine,
        ComponentLine,
        DesignationLine,
        Gap,
        RiskReason,
        Scorecard,
        ScoreRoute,
        explain,
        fmt,
        own_sources,
    )

_EXPORTS = {
    "ApprovedOverride": "evaluate",
    "Certifications": "evaluate",
    "CheckLine": "scorecard",
    "ComponentLine": "scorecard",
    "Designation": "program",
    "DesignationLine": "scorecard",
    "EVENTS": "evaluate",
    "EvaluationError": "evaluate",
    "Gap": "scorecard",
    "Inputs": "evaluate",
    "Lapse": "evaluate",
    "Partners": "evaluate",
    "Period": "periods",
    "PeriodError": "periods",
    "PeriodResult": "evaluate",
    "Program": "program",
    "ProgramError": "program",
    "RiskReason": "scorecard",
    "ScoreRoute": "scorecard",
    "Transition": "program",
    "Scorecard": "scorecard",
    "explain": "scorecard",
    "flag_errors": "numbers",
    "fmt": "scorecard",
    "group_values": "evaluate",
    "lapsing_people": "evaluate",
    "level": "evaluate",
    "level_timeline": "evaluate",
    "level_values": "evaluate",
    "next_period": "periods",
    "own_sources": "scorecard",
    "parse_period": "periods",
    "parse_program": "program",
    "person_codes": "evaluate",
    "person_key": "evaluate",
    "program_hash": "program",
    "remaining_people": "evaluate",
    "sort_timeline": "program",
    "tier_map": "evaluate",
    "timeline_after_load": "program",
    "timeline_values": "evaluate",
    "unmapped_tiers": "evaluate",
    "version_of_periods": "evaluate",
    "round6": "numbers",
    "score_number": "numbers",
    "score_text": "numbers",
    "suggest": "program",
    "value_text": "numbers",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "EVENTS",
    "ApprovedOverride",
    "Certifications",
    "CheckLine",
    "ComponentLine",
    "Designation",
    "DesignationLine",
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
    "Transition",
    "Scorecard",
    "explain",
    "flag_errors",
    "fmt",
    "group_values",
    "lapsing_people",
    "level",
    "level_timeline",
    "level_values",
    "next_period",
    "own_sources",
    "parse_period",
    "parse_program",
    "person_codes",
    "person_key",
    "program_hash",
    "remaining_people",
    "sort_timeline",
    "tier_map",
    "timeline_after_load",
    "timeline_values",
    "unmapped_tiers",
    "version_of_periods",
    "round6",
    "score_number",
    "score_text",
    "suggest",
    "value_text",
]
