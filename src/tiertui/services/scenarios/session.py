"""The session over data loaded once: partner data read once, any number of scenarios evaluated on it.

A scenario's result for period P is exactly what ``tiertui level`` would give for P had the
scenario been the program all along: grace histories are replayed (:mod:`.replay`) from the tiers
on record with the scenario's rules over periods up to P, on partner data read once into memory.
**A scenario keeps the active program's tiers and frequency** (changing them is a new program,
not a what-if); a scenario that changes them is refused with a clear message.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable

import numpy as np
from sqlalchemy.engine import Engine

from ...scoring import Certifications, EvaluationError, PeriodError, Program, parse_period
from ...scoring import evaluate as ev
from ...scoring.program import CERT_PREFIX
from ...storage import queries
from ...storage.tables import ProgramVersion
from ..errors import ServiceError
from ..levelling import LoadedInputs, load_inputs
from ..programs import active_program, active_version
from .costs import Cost, benefit_cost
from .knobs import parse_scenario
from .movers import Mover, movers_of
from .replay import Replay, Run, Step, cache_key
from .result import WhatIf

Progress = Callable[[float, str], None]
NO_REGION = "(no region)"


@dataclasses.dataclass(frozen=True)
class FilterChoices:
    regions: list[str]
    types: list[str]
    managers: list[str]


def _quiet(_fraction: float, _message: str) -> None:
    pass


def data_stamp(engine: Engine) -> tuple[int, int]:
    """What a session's data depends on, read in a millisecond: (the newest audit entry, the active
    program version). Every write is audited in its own transaction, so the same stamp means the
    same partner data, metrics, certifications, overrides and program: a session read under it
    can be reused."""
    with engine.connect() as conn:
        rows = queries.fetchall(
            conn,
            "SELECT (SELECT MAX(id) FROM audit_entry), (SELECT id FROM program_version WHERE active = ?)",
            (True,),
        )
    audit, version = rows[0] if rows else (None, None)
    return int(audit or 0), int(version or 0)


class ScenarioSession(Replay):
    """Partner data loaded once; evaluates any number of scenarios against the active program.

    Group values are cached per (metric, rollup); a scenario that reads a metric or
    certification track the cache lacks loads it from the database once. ``lock``: one evaluation
    at a time (the caches are filled as scenarios need them). ``stamp``: the :func:`data_stamp` the
    data was read under (read before the data, so a write meanwhile makes the stamp older).
    """

    stamp: tuple[int, int] | None = None

    def __init__(self, engine: Engine, version: ProgramVersion, loaded: LoadedInputs, managers: list[str]) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.base = loaded.program
        self.base_version = version.version
        self.base_version_id = version.id
        self.base_text = loaded.program.source
        self.loaded = loaded
        self.inputs = loaded.inputs
        cols = loaded.partners
        self.partner_ids = list(cols.partner_id)
        self.names = list(cols.name)
        self.regions = list(cols.region)
        self.types = list(cols.partner_type)
        self.managers = managers
        self.periods = [p.label for p in self.inputs.periods]
        self.n = len(self.partner_ids)
        self._lookup = cols.index_of_keys()
        region_labels = [r or NO_REGION for r in self.regions]
        self._region_names, self._region_code = (
            np.unique(np.asarray(region_labels, dtype=object), return_inverse=True)
            if self.n
            else (np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64))
        )
        self._own: dict[str, np.ndarray] = {m: np.asarray(v, dtype=np.float64) for m, v in self.inputs.metrics.items()}
        self._group: dict[tuple[str, str], np.ndarray] = {}
        try:
            self._levels = ev.group_order(self.inputs.partners.parent)
            values = ev.group_values(self.base, self.inputs)
        except EvaluationError as exc:
            raise ServiceError(str(exc)) from None
        for m, v in values.items():
            self._group[cache_key(self.base, m)] = v
        # partners grouped by (region, partner_type): variants resolve once per combination
        combos, self._combo = ev.kinds_of_partner(self.regions, self.types)
        self._combo_regions = [r for r, _ in combos]
        self._combo_types = [t for _, t in combos]
        self._cost_cache: dict[tuple, Cost] = {}
        self._scores: dict[tuple, np.ndarray] = {}
        self._points: dict[tuple, np.ndarray] = {}
        self._limits: dict[tuple, np.ndarray] = {}
        self.baseline = self.run(self.base, len(self.periods))

    @classmethod
    def open(cls, engine: Engine, progress: Progress = _quiet) -> ScenarioSession:
        """Read the active program's inputs once and evaluate the baseline."""
        stamp = data_stamp(engine)
        version = active_version(engine)
        if version is None:
            raise ServiceError("no program is loaded: run `tiertui program load FILE.toml` first")
        program = active_program(engine)

        # tiers on record by name, read through the active version's map (v2 §3.11: a database whose
        # partners were recorded under an earlier version), then fixed as indices for the replay
        # reading is most of the time (about 6 s of 7 at 100,000 partners), the baseline the rest
        def reading(fraction: float, message: str = "") -> None:
            progress(0.85 * fraction, message)

        loaded = load_inputs(engine, program, reading, versions=[program])
        partners = loaded.inputs.partners
        try:
            partners.tier_on_record = ev.record_tiers(program, partners)
        except EvaluationError as exc:
            raise ServiceError(str(exc)) from None
        partners.record_names = None
        overrides = []
        for o in loaded.inputs.overrides:
            name = program.carried_tier(o.tier_name) if o.tier_name is not None else None
            if name is not None:  # a tier the active version does not have, even through its map: ignored
                overrides.append(dataclasses.replace(o, tier=program.tier_index(name), tier_name=None))
        loaded.inputs.overrides = overrides
        loaded.timeline = []
        with engine.connect() as conn:
            rows = queries.fetchall(conn, "SELECT key, account_manager FROM partner")
        lookup = loaded.partners.index_of_keys()
        managers = [""] * len(loaded.partners.key)
        for key, manager in rows:
            managers[int(lookup[key])] = manager or ""
        progress(0.85, "evaluating the active program")
        session = cls(engine, version, loaded, managers)
        session.stamp = stamp
        _ = session.filter_choices  # here, not on the screen's event loop
        progress(1.0, "")
        return session

    @classmethod
    def reuse_or_open(
        cls, engine: Engine, cached: ScenarioSession | None, progress: Progress = _quiet
    ) -> ScenarioSession:
        """``cached`` if it was read from this database under the data as it is now (nothing written
        since, by anyone: see :func:`data_stamp`), else a new session (:meth:`open`)."""
        if cached is not None and cached.engine is engine and cached.stamp == data_stamp(engine):
            return cached
        return cls.open(engine, progress)

    # ---------------------------------------------------------------- values

    def check(self, scenario: Program) -> None:
        """Refuse a scenario that changes what a what-if cannot: the tiers or the frequency."""
        if tuple(scenario.tiers) != tuple(self.base.tiers):
            raise ServiceError(
                f"the scenario's tiers ({', '.join(scenario.tiers)}) differ from the active program's "
                f"({', '.join(self.base.tiers)}); a scenario keeps the tiers: load a new program to change them"
            )
        if scenario.frequency != self.base.frequency:
            raise ServiceError(
                f"the scenario is {scenario.frequency} but the active program is {self.base.frequency}; "
                "a scenario keeps the frequency"
            )

    def values_for(self, program: Program) -> dict[str, np.ndarray]:
        """Group values of every metric ``program`` reads: metric -> (periods, partners) (designation
        metrics are computed in each period, not read)."""
        used = program.input_metrics()
        missing = [m for m in used if cache_key(program, m) not in self._group]
        if missing:
            self._load(program, missing)
        return {m: self._group[cache_key(program, m)] for m in used}

    def run(self, program: Program, upto: int) -> Run:
        """:meth:`Replay.run`; (v2 §3.12) a program with designations runs through
        ``scoring.level_timeline`` itself (with a memo kept across edits), since its designations are
        evaluated before its tiers in every period."""
        if not program.designations and not (self.base.designations and program is self.base):
            return super().run(program, upto)
        if not hasattr(self, "_memo"):
            self._memo: dict = {}
        # the program all along (a what-if compares rules, not dates): every period, no change
        always = dataclasses.replace(program, effective_from=None, transition=None)
        try:
            results = ev.level_timeline([always], self.inputs, [self.values_for(program)], upto=upto, memo=self._memo)
        except EvaluationError as exc:
            raise ServiceError(str(exc)) from None
        steps = [Step(r.values, r.score, r.qualified, r.earned, r.effective, r.event, r.below) for r in results]
        regions, types = self.regions, self.types
        return Run(program, steps, lambda: ev.resolve(program, regions, types))

    def own_values(self, metric: str) -> np.ndarray:
        """A declared metric's own values (not rolled up): (periods, partners)."""
        if metric not in self._own:
            with self.engine.connect() as conn:
                self._read_own(conn, [metric])
        return self._own[metric]

    @functools.cached_property
    def filter_choices(self) -> FilterChoices:
        """The movers' filter choices: the distinct non-empty regions, types and managers, sorted."""
        return FilterChoices(
            *(sorted({v for v in values if v}) for values in (self.regions, self.types, self.managers))
        )

    def _read_own(self, conn, metrics: list[str]) -> None:
        read = queries.read_metrics(conn, metrics)
        for m in metrics:
            own = np.zeros((len(self.periods), self.n))
            for k, label in enumerate(self.periods):
                if (label, m) in read:
                    keys, values = read[(label, m)]
                    own[k, self._lookup[keys]] = values
            self._own[m] = own

    def _load(self, program: Program, metrics: list[str]) -> None:
        declared = [m for m in metrics if not m.startswith(CERT_PREFIX)]
        tracks = [m[len(CERT_PREFIX) :] for m in metrics if m.startswith(CERT_PREFIX)]
        parent = self.inputs.partners.parent
        with self.engine.connect() as conn:
            unread = [m for m in declared if m not in self._own]
            if unread:
                self._read_own(conn, unread)
            certs = queries.read_certifications(conn, tracks) if tracks else None
        for m in declared:
            own = self._own[m]
            rolled = ev.roll_up(own, parent, self._levels) if program.metrics[m].rollup == "sum" else own
            self._group[cache_key(program, m)] = rolled
        if tracks:
            assert certs is not None  # read above whenever tracks is non-empty
            codes: dict[str, int] = {}
            person = np.array(
                [codes.setdefault(p.strip().casefold(), len(codes)) for p in certs.person], dtype=np.int64
            )
            columns = Certifications(self._lookup[certs.partner_key], person, certs.track, certs.earned, certs.expires)
            ends = [p.end for p in self.inputs.periods]
            counted = ev.certified_people(columns, tracks, ends, parent, self.n)
            for t, v in counted.items():
                self._group[(CERT_PREFIX + t, "cert")] = v

    def period_index(self, period: str | None) -> int:
        if not self.periods:
            raise ServiceError("no metrics are imported yet: there is no period to evaluate")
        if period is None:
            return len(self.periods) - 1
        try:
            label = parse_period(period).label
        except PeriodError as exc:
            raise ServiceError(str(exc)) from None
        if label not in self.periods:
            raise ServiceError(f"period {label} has no metrics; the periods are {', '.join(self.periods)}")
        return self.periods.index(label)

    # ---------------------------------------------------------------- evaluation

    def evaluate_text(self, text: str, period: str | None = None, name: str = "scenario") -> WhatIf:
        return self.evaluate(parse_scenario(text, name), period, name)

    def evaluate(self, scenario: Program, period: str | None = None, name: str = "scenario") -> WhatIf:
        """The scenario's result for ``period`` (default: the latest) next to the active program's."""
        self.check(scenario)
        k = self.period_index(period)
        history = self.run(scenario, k + 1)
        before, after = self.baseline.steps[k], history.steps[k]
        tiers = tuple(self.base.tiers)
        count_before = np.bincount(before.effective, minlength=len(tiers))
        count_after = np.bincount(after.effective, minlength=len(tiers))
        moved = before.effective != after.effective
        up = int((moved & (after.effective > before.effective)).sum())
        return WhatIf(
            name=name,
            program=scenario.name,
            base_program=self.base.name,
            base_version=self.base_version,
            period=self.periods[k],
            partners=self.n,
            tiers=tiers,
            tiers_before={t: int(c) for t, c in zip(tiers, count_before)},
            tiers_after={t: int(c) for t, c in zip(tiers, count_after)},
            cost_before=self._cost(self.base, k, before.effective, cache=True),
            cost_after=self._cost(scenario, k, after.effective),
            moved_up=up,
            moved_down=int(moved.sum()) - up,
            _movers=lambda: self._movers(history, k),
            _effective=(before.effective, after.effective),
            _ids=self.partner_ids,
        )

    def _cost(self, program: Program, k: int, effective: np.ndarray, cache: bool = False) -> Cost:
        metric = program.revenue_metric
        if cache and (k, metric) in self._cost_cache:
            return self._cost_cache[(k, metric)]
        revenue = self.own_values(metric)[k] if metric else np.zeros(self.n)
        result = benefit_cost(program, revenue, effective, self._region_code, self._region_names)
        if cache:
            self._cost_cache[(k, metric)] = result
        return result

    # ---------------------------------------------------------------- movers and reasons

    def _movers(self, history: Run, k: int) -> list[Mover]:
        return movers_of(self, history, k)


class SessionLoader:
    """One database's what-if session, read once and shared by whoever asks for it.

    The app starts a read in the background once its first screen has data, and the what-if screen
    asks for the session when it opens: whoever asks while a read is under way waits for that read
    (its ``progress`` hears how far it is) instead of starting a second one, which would read the
    same 5 million rows again next to it. A session read before is handed out again while nothing is
    written (see :func:`data_stamp`). Safe to use from any thread; never on an event loop (it reads).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._session: ScenarioSession | None = None
        self._reading = False
        self._listeners: list[Progress] = []
        self._last: tuple[float, str] = (0.0, "")

    @property
    def session(self) -> ScenarioSession | None:
        """The session read last (maybe older than the data now), or None."""
        return self._session

    @property
    def reading(self) -> bool:
        return self._reading

    def current(self, engine: Engine) -> ScenarioSession | None:
        """The session read before, if nothing was written since and no read is under way (a
        millisecond); None otherwise (:meth:`get` reads it)."""
        session = self._session
        if self._reading or session is None or session.engine is not engine:
            return None
        return session if session.stamp == data_stamp(engine) else None

    def get(self, engine: Engine, progress: Progress = _quiet) -> ScenarioSession:
        """The session of the data as it is now: the one read before if nothing was written since,
        else the one being read (waiting for it), else read now in the calling thread."""
        with self._cond:
            while self._reading:
                self._listeners.append(progress)
                last = self._last
                try:
                    progress(*last)
                    self._cond.wait()
                finally:
                    self._listeners.remove(progress)
            cached = self._session
            self._reading = True
            self._last = (0.0, "")
            self._listeners.append(progress)
        try:
            session = ScenarioSession.reuse_or_open(engine, cached, self._progress)
            with self._cond:
                self._session = session
            return session
        finally:
            with self._cond:
                self._reading = False
                self._listeners.remove(progress)
                self._cond.notify_all()

    def _progress(self, fraction: float, message: str = "") -> None:
        with self._cond:
            self._last = (fraction, message)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(fraction, message)
