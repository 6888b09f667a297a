"""What-if scenarios: a program file derived from the active one, evaluated against the same data.

A scenario's result for period P is exactly what ``tiertui level`` would give for P had the
scenario been the program all along, on partner data read once; re-evaluating 100,000 partners
after an edit takes milliseconds. The tests compare it with ``scoring.level`` and with a stored
``tiertui level`` run. By concern:

* :mod:`.knobs`: the scenario file and its knobs (editing a program's values); :mod:`.toml_writer`
  writes the edited file;
* :mod:`.session`: :class:`ScenarioSession`, the session over data loaded once;
* :mod:`.replay`: re-evaluation, the periods replayed with cached parts;
* :mod:`.movers`: movers with reasons; :mod:`.costs`: benefit costs;
* :mod:`.result`: :class:`WhatIf`, one period's result and its text, CSV and JSON forms;
* :mod:`.saved`: saved (named) scenarios; :mod:`.activation`: a saved scenario made the program;
* :mod:`.report`: ``tiertui whatif``;
* :mod:`.versions`: (v2 §3.11) a scenario that is a new version (``effective_from``,
  ``[transition]``), with and without its protection.

Decisions (the issue leaves them to us) are described where they are implemented: movers compare
effective tiers and reasons (:mod:`.movers`); benefit cost uses each partner's own revenue
(:mod:`.costs`); a scenario keeps the active program's tiers and frequency (:mod:`.session`);
edits do not keep comments (:mod:`.knobs`).
"""

from .activation import activate_in, activate_scenario
from .costs import Cost, CostSplit
from .knobs import KNOB_KINDS, Knob, apply_edit, editable_values, gate_knob, parse_scenario
from .movers import DOWN, UP, Mover
from .report import whatif, write_whatif
from .result import WhatIf
from .saved import SavedScenario, delete_scenario, export_scenario, list_scenarios, open_scenario, save_scenario
from .session import NO_REGION, Progress, ScenarioSession, SessionLoader
from .toml_writer import dumps
from .versions import PeriodCompare, VersionMover, VersionSession, VersionWhatIf

__all__ = [
    "DOWN",
    "KNOB_KINDS",
    "NO_REGION",
    "UP",
    "Cost",
    "CostSplit",
    "Knob",
    "Mover",
    "PeriodCompare",
    "VersionMover",
    "VersionSession",
    "VersionWhatIf",
    "Progress",
    "SavedScenario",
    "ScenarioSession",
    "SessionLoader",
    "WhatIf",
    "activate_in",
    "activate_scenario",
    "apply_edit",
    "delete_scenario",
    "dumps",
    "editable_values",
    "export_scenario",
    "gate_knob",
    "list_scenarios",
    "open_scenario",
    "parse_scenario",
    "save_scenario",
    "whatif",
    "write_whatif",
]
