"""What-if scenarios: a program file derived from the active one, evaluated against the same data.

A scenario's result for period P is exactly what ``tiertui level`` would give for P had the
scenario been the program all along: grace histories are replayed from the tiers on record with
the scenario's rules over periods up to P, on partner data read once into memory. The replay
(:meth:`ScenarioSession.run`) is ``evaluate.level_values(..., upto=P+1)`` step for step, with the
scoring module's own functions, but caches what one edit leaves unchanged (each score
component's points, each tier's gates-and-maxima verdict) and resolves variants once per
(region, partner_type), so that re-evaluating 100,000 partners after an edit takes milliseconds.
The tests compare it with ``scoring.level`` and with a stored ``tiertui level`` run.

Decisions (the issue leaves them to us):

* **Movers compare effective tiers.** A mover is a partner whose effective tier in P differs
  between the active program and the scenario. Approved overrides apply to both sides equally,
  so an overridden partner never moves; for every mover the effective tier is the earned tier on
  both sides, and the reason explains the change of the earned tier.
* **Reasons** compare, for the tier held on one side only (the higher of the two), the partner's
  resolved requirements under the active program and under the scenario: the checks that are met
  on one side and not on the other ("Gold gate revenue 400,000 < 450,000 (raised from 400,000)",
  "score 48.50 < min_score 50 for Gold"). When the checks in P agree, the difference is grace
  ("grace: 1 of 2 periods below Gold") or history: the reason then explains the period where the
  two histories parted ("since 2026-Q1: ...").
* **Benefit cost** = sum over partners of the partner's *own* value of the program's
  ``revenue_metric`` in P (not the group value: a parent's group value already holds its
  subsidiaries' revenue, so group values would count it twice) times the benefit fraction of the
  partner's effective tier; negative revenue counts as 0. Each side uses its own program's
  revenue metric and benefits. A program without ``revenue_metric`` costs nothing.
* **A scenario keeps the active program's tiers and frequency** (changing them is a new
  program, not a what-if); a scenario that changes them is refused with a clear message.
* **Edits** rewrite the TOML document from its parsed form, so comments are not kept.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ..scoring import (
    Certifications,
    EvaluationError,
    PeriodError,
    Program,
    ProgramError,
    fmt,
    parse_period,
    parse_program,
)
from ..scoring import evaluate as ev
from ..scoring.program import BENEFIT_KINDS, CERT_PREFIX, Benefits
from ..storage import queries
from ..storage.tables import ProgramVersion, Scenario, utcnow
from . import audit, roles
from .errors import ServiceError
from .levelling import LoadedInputs, load_inputs
from .programs import active_program, active_version, read_program_file, store_program

Progress = Callable[[float, str], None]
NO_REGION = "(no region)"
UP, DOWN = "up", "down"


def _quiet(_fraction: float, _message: str) -> None:
    pass


# =============================================================================== results


@dataclass(frozen=True)
class CostSplit:
    """Benefit cost, split by kind (currency of the revenue metric)."""

    discount: float = 0.0
    rebate: float = 0.0
    mdf: float = 0.0

    @property
    def total(self) -> float:
        return self.discount + self.rebate + self.mdf

    def as_dict(self) -> dict[str, float]:
        return {"discount": self.discount, "rebate": self.rebate, "mdf": self.mdf, "total": self.total}


@dataclass(frozen=True)
class Cost:
    """Benefit cost of one side of a what-if: in total and per region."""

    metric: str | None  # the revenue metric the fractions apply to; None: no benefits
    total: CostSplit
    by_region: dict[str, CostSplit]

    def as_dict(self) -> dict[str, Any]:
        return {
            "revenue_metric": self.metric,
            "total": self.total.as_dict(),
            "by_region": {r: c.as_dict() for r, c in self.by_region.items()},
        }


@dataclass(frozen=True)
class Mover:
    partner_id: str
    name: str
    region: str
    partner_type: str
    manager: str
    from_tier: str
    to_tier: str
    direction: str  # "up" | "down"
    reason: str


@dataclass
class WhatIf:
    """A scenario's result for one period, next to the active program's."""

    name: str  # the scenario's name, or its file name
    program: str  # the scenario program's name
    base_program: str
    base_version: int | None
    period: str
    partners: int
    tiers: tuple[str, ...]
    tiers_before: dict[str, int]  # effective tier counts, active program
    tiers_after: dict[str, int]  # effective tier counts, scenario
    cost_before: Cost
    cost_after: Cost
    moved_up: int
    moved_down: int
    _movers: Callable[[], list[Mover]] = field(repr=False)
    _effective: tuple[np.ndarray, np.ndarray] = field(repr=False)
    _ids: Sequence[str] = field(repr=False)
    _cache: list[Mover] | None = field(default=None, repr=False)

    @property
    def movers(self) -> list[Mover]:
        """Every partner whose effective tier changes, in partner_id order, with its reason."""
        if self._cache is None:
            self._cache = self._movers()
        return self._cache

    def filter(
        self,
        region: str | None = None,
        partner_type: str | None = None,
        manager: str | None = None,
        direction: str | None = None,
    ) -> list[Mover]:
        """Movers matching every given attribute (case does not matter); None: any."""

        def same(a: str, b: str | None) -> bool:
            return b is None or a.casefold() == b.casefold()

        return [
            m
            for m in self.movers
            if same(m.region, region)
            and same(m.partner_type, partner_type)
            and same(m.manager, manager)
            and same(m.direction, direction)
        ]

    def tiers_by_partner(self, after: bool = True) -> dict[str, str]:
        """partner_id -> effective tier in the period (scenario, or the active program)."""
        col = self._effective[1 if after else 0]
        names = np.asarray(self.tiers, dtype=object)[col]
        return dict(zip(self._ids, names.tolist()))

    # ---------------------------------------------------------------- output

    def text(self, limit: int = 20) -> str:
        lines = [
            f"What-if {self.name!r} for {self.period}: {self.partners:,} partners, "
            f"{self.base_program}"
            + (f" v{self.base_version}" if self.base_version is not None else "")
            + " (before) against the scenario (after).",
            "",
        ]
        width = max(8, *(len(t) for t in self.tiers))
        lines.append(f"  {'Tier':<{width}}  {'before':>9}  {'after':>9}  {'change':>8}")
        for t in reversed(self.tiers):
            b, a = self.tiers_before[t], self.tiers_after[t]
            lines.append(f"  {t:<{width}}  {b:>9,}  {a:>9,}  {a - b:>+8,}")
        lines += ["", f"Movers: {self.moved_up:,} up, {self.moved_down:,} down."]
        metric = self.cost_after.metric or self.cost_before.metric
        if metric:
            lines += ["", f"Benefit cost (fractions of each partner's own {metric}):"]
            rw = max(8, *(len(r) for r in (*self.cost_before.by_region, *self.cost_after.by_region)))
            lines.append(f"  {'':<{rw}}  {'before':>15}  {'after':>15}  {'change':>15}")
            for kind in (*BENEFIT_KINDS, "total"):
                b = getattr(self.cost_before.total, kind)
                a = getattr(self.cost_after.total, kind)
                lines.append(f"  {kind:<{rw}}  {b:>15,.0f}  {a:>15,.0f}  {a - b:>+15,.0f}")
            lines.append("  by region (total):")
            for region in _regions_of(self.cost_before, self.cost_after):
                b = self.cost_before.by_region.get(region, CostSplit()).total
                a = self.cost_after.by_region.get(region, CostSplit()).total
                lines.append(f"  {region:<{rw}}  {b:>15,.0f}  {a:>15,.0f}  {a - b:>+15,.0f}")
        else:
            lines += ["", "Benefit cost: the program names no revenue_metric, so benefits cost nothing."]
        movers = self.movers
        if movers:
            lines += ["", "Movers:"]
            for m in movers[:limit]:
                lines.append(f"  {m.partner_id}  {m.name}: {m.from_tier} -> {m.to_tier}: {m.reason}")
            if len(movers) > limit:
                lines.append(f"  ... and {len(movers) - limit:,} more (--format csv lists them all)")
        return "\n".join(lines)

    def csv(self, out: TextIO) -> None:
        """One row per mover: partner_id,from_tier,to_tier,reason."""
        from ..safe_text import spreadsheet_text

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["partner_id", "from_tier", "to_tier", "reason"])
        for m in self.movers:  # no cell may start a formula (spec §4, safe output)
            writer.writerow([spreadsheet_text(c) for c in (m.partner_id, m.from_tier, m.to_tier, m.reason)])

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "program": self.program,
            "base_program": self.base_program,
            "base_version": self.base_version,
            "period": self.period,
            "partners": self.partners,
            "tiers_before": self.tiers_before,
            "tiers_after": self.tiers_after,
            "moved_up": self.moved_up,
            "moved_down": self.moved_down,
            "cost_before": self.cost_before.as_dict(),
            "cost_after": self.cost_after.as_dict(),
            "movers": [m.__dict__ for m in self.movers],
        }

    def json(self, out: TextIO) -> None:
        json.dump(self.as_dict(), out, indent=2, ensure_ascii=False)
        out.write("\n")


def _regions_of(*costs: Cost) -> list[str]:
    seen: dict[str, None] = {}
    for c in costs:
        seen.update(dict.fromkeys(c.by_region))
    return sorted(seen)


# =============================================================================== session


class ScenarioSession:
    """Partner data loaded once; evaluates any number of scenarios against the active program.

    Group values are cached per (metric, rollup); a scenario that reads a metric or
    certification track the cache lacks loads it from the database once.
    """

    def __init__(self, engine: Engine, version: ProgramVersion, loaded: LoadedInputs, managers: list[str]) -> None:
        self.engine = engine
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
            self._group[_cache_key(self.base, m)] = v
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
        version = active_version(engine)
        if version is None:
            raise ServiceError("no program is loaded: run `tiertui program load FILE.toml` first")
        program = active_program(engine)
        loaded = load_inputs(engine, program, progress)
        with engine.connect() as conn:
            rows = queries.fetchall(conn, "SELECT key, account_manager FROM partner")
        lookup = loaded.partners.index_of_keys()
        managers = [""] * len(loaded.partners.key)
        for key, manager in rows:
            managers[int(lookup[key])] = manager or ""
        return cls(engine, version, loaded, managers)

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
        """Group values of every metric ``program`` uses: metric -> (periods, partners)."""
        used = program.used_metrics()
        missing = [m for m in used if _cache_key(program, m) not in self._group]
        if missing:
            self._load(program, missing)
        return {m: self._group[_cache_key(program, m)] for m in used}

    def own_values(self, metric: str) -> np.ndarray:
        """A declared metric's own values (not rolled up): (periods, partners)."""
        if metric not in self._own:
            with self.engine.connect() as conn:
                self._read_own(conn, [metric])
        return self._own[metric]

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
            self._group[_cache_key(program, m)] = rolled
        if tracks:
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
        try:
            program = parse_program(text, name)
        except ProgramError as exc:
            raise ServiceError(str(exc)) from None
        return self.evaluate(program, period, name)

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
        if not metric:
            return Cost(None, CostSplit(), {})
        revenue = np.maximum(self.own_values(metric)[k], 0.0)
        split_total, split_region = {}, {}
        for kind in BENEFIT_KINDS:
            fraction = np.array(
                [getattr(program.benefits.get(t, Benefits()), kind) for t in program.tiers], dtype=np.float64
            )
            cost = revenue * fraction[effective]
            split_total[kind] = float(cost.sum())
            split_region[kind] = np.bincount(self._region_code, weights=cost, minlength=len(self._region_names))
        by_region = {
            str(r): CostSplit(*(float(split_region[kind][i]) for kind in BENEFIT_KINDS))
            for i, r in enumerate(self._region_names)
        }
        result = Cost(metric, CostSplit(**split_total), by_region)
        if cache:
            self._cost_cache[(k, metric)] = result
        return result

    # ---------------------------------------------------------------- movers and reasons

    def thresholds(self, program: Program) -> dict[int, ev.Thresholds]:
        """Each tier's resolved requirements per partner (as ``evaluate.resolve``), resolved per combination."""
        small = ev.resolve(program, self._combo_regions, self._combo_types)
        c = self._combo
        return {
            t: ev.Thresholds(
                th.min_score[c],
                {m: g[c] for m, g in th.gates.items()},
                {m: x[c] for m, x in th.maxima.items()},
                th.variant[c],
            )
            for t, th in small.items()
        }

    def run(self, program: Program, upto: int) -> _Run:
        """Periods ``0 .. upto-1`` of §3.3 to §3.7 with ``program``, on the cached group values.

        The steps of ``evaluate.level_values`` (score, tiers met, qualified tier, earned tier with
        grace, overrides), with its functions, without the at-risk flags and badges a what-if does
        not show. To re-evaluate within milliseconds after one edit, the parts an edit rarely
        touches are cached over all periods: the score per set of score components, and per tier
        whether the partner meets its gates and maxima. Variants are resolved once per
        (region, partner_type) rather than once per partner.
        """
        values = self.values_for(program)
        used = program.used_metrics()
        periods = list(self.inputs.periods)[:upto]
        try:
            ev.check_periods(program, periods)
        except EvaluationError as exc:
            raise ServiceError(str(exc)) from None
        small = ev.resolve(program, self._combo_regions, self._combo_types)
        score = self._score(program, values)
        qualified_all = np.zeros(score.shape, dtype=np.int8 if len(program.tiers) < 128 else np.int64)
        for t in sorted(small):
            met = ev.score_met(score, small[t].min_score[self._combo]) & self._limits_met(program, t, small[t], values)
            qualified_all = np.where(met, t, qualified_all)
        earned = np.asarray(self.inputs.partners.tier_on_record, dtype=np.int64).copy()
        below = np.zeros(self.n, dtype=np.int64)
        steps = []
        for k, period in enumerate(periods):
            qualified = qualified_all[k]
            earned, below, event = ev.step_earned(qualified, earned, below, program.grace_periods)
            effective, _ = ev.apply_overrides(self.inputs.overrides, period.end, earned)
            steps.append(_Step({m: values[m][k] for m in used}, score[k], qualified, earned, effective, event, below))
        return _Run(program, steps, lambda: self.thresholds(program))

    def _score(self, program: Program, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """(periods, partners) scores: each component's points cached, summed in file order as
        ``evaluate.total_score`` sums them, so an edit of one component recomputes only that one."""
        key = tuple((c.metric, _cache_key(program, c.metric)[1], c.points, c.target) for c in program.score)
        hit = _lru_get(self._scores, key)
        if hit is None:
            parts = []
            for c, part_key in zip(program.score, key):
                part = _lru_get(self._points, part_key)
                if part is None:
                    part = ev.component_points(dataclasses.replace(program, score=(c,)), values)[0]
                    _lru_put(self._points, part_key, part, 2 * len(program.score) + 8)
                parts.append(part)
            hit = ev.total_score(parts, np.zeros((len(self.periods), self.n)))
            _lru_put(self._scores, key, hit, 4)
        return hit

    def _limits_met(self, program: Program, t: int, th: ev.Thresholds, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """(periods, partners): every gate and maximum of tier ``t`` met (cached per rule set)."""
        req = program.requirements[program.tiers[t]]
        key = (
            t,
            tuple(req.base.gates.items()),
            tuple(req.base.maxima.items()),
            tuple(
                (v.region, v.partner_type, tuple(v.rule.gates.items()), tuple(v.rule.maxima.items()))
                for v in req.variants
            ),
            tuple(_cache_key(program, m) for m in (*th.gates, *th.maxima)),
        )
        hit = _lru_get(self._limits, key)
        if hit is None:
            hit = np.ones((len(self.periods), self.n), dtype=bool)
            for m, gate in th.gates.items():
                hit &= ev.gate_met(values[m], gate[self._combo])
            for m, maximum in th.maxima.items():
                hit &= ev.maximum_met(values[m], maximum[self._combo])
            _lru_put(self._limits, key, hit, 48)
        return hit

    def _movers(self, history: _Run, k: int) -> list[Mover]:
        before, after = self.baseline.steps[k], history.steps[k]
        idx = np.flatnonzero(before.effective != after.effective)
        if not len(idx):
            return []
        reasons = _Reasons(self, self.baseline, history).explain(idx, k)
        tiers = self.base.tiers
        result = []
        for j, i in enumerate(idx.tolist()):
            a, b = int(before.effective[i]), int(after.effective[i])
            result.append(
                Mover(
                    self.partner_ids[i],
                    self.names[i],
                    self.regions[i],
                    self.types[i],
                    self.managers[i],
                    tiers[a],
                    tiers[b],
                    UP if b > a else DOWN,
                    reasons[j],
                )
            )
        return result


@dataclass
class _Step:
    """One period of one program's run (the columns a what-if needs)."""

    values: dict[str, np.ndarray]
    score: np.ndarray
    qualified: np.ndarray
    earned: np.ndarray
    effective: np.ndarray
    event: np.ndarray
    below: np.ndarray


class _Run:
    """One program's run over periods ``0 .. k``; per-partner thresholds computed when asked."""

    def __init__(self, program: Program, steps: list[_Step], thresholds: Callable[[], dict[int, ev.Thresholds]]):
        self.program = program
        self.steps = steps
        self._thresholds = thresholds
        self._resolved: dict[int, ev.Thresholds] | None = None

    @property
    def thresholds(self) -> dict[int, ev.Thresholds]:
        if self._resolved is None:
            self._resolved = self._thresholds()
        return self._resolved


def _lru_get(cache: dict, key):
    value = cache.pop(key, None)
    if value is not None:
        cache[key] = value
    return value


def _lru_put(cache: dict, key, value, size: int) -> None:
    cache[key] = value
    while len(cache) > size:
        del cache[next(iter(cache))]


def _cache_key(program: Program, metric: str) -> tuple[str, str]:
    if metric.startswith(CERT_PREFIX):
        return (metric, "cert")
    return (metric, program.metrics[metric].rollup)


@dataclass
class _Check:
    kind: str  # min_score | gate | maximum
    metric: str
    value_b: np.ndarray
    value_s: np.ndarray
    thr_b: np.ndarray  # NaN: not required on that side
    thr_s: np.ndarray
    met_b: np.ndarray
    met_s: np.ndarray


class _Reasons:
    """Plain-words reasons for a set of movers, vectorised per tier and check."""

    def __init__(self, session: ScenarioSession, base: _Run, scenario: _Run) -> None:
        self.s = session
        self.tiers = session.base.tiers
        self.b = base
        self.sc = scenario

    def explain(self, idx: np.ndarray, k: int) -> list[str]:
        rb, rs = self.b.steps[k], self.sc.steps[k]
        eb, es = rb.earned[idx], rs.earned[idx]
        tier = np.maximum(eb, es)
        out = self.checks(idx, k, tier, es > eb)
        pending = [j for j, text in enumerate(out) if not text]
        if not pending:
            return out
        # the checks in k agree: the side holding the tier is in grace, or the other side was
        # demoted after its grace. Explain the latest period where one side met the tier and
        # the other did not, then the grace.
        sub = idx[pending]
        tier_sub = tier[pending]
        qb = np.stack([st.qualified[sub] for st in self.b.steps[: k + 1]]) >= tier_sub
        qs = np.stack([st.qualified[sub] for st in self.sc.steps[: k + 1]]) >= tier_sub
        parted = qb != qs
        last = np.where(parted.any(axis=0), k - np.argmax(parted[::-1], axis=0), -1)
        earlier = [""] * len(sub)
        for d in np.unique(last).tolist():
            if d < 0:
                continue
            rows = np.flatnonzero(last == d)
            texts = self.checks(sub[rows], d, tier_sub[rows], qs[d, rows])
            for r, text in zip(rows.tolist(), texts):
                if text:
                    earlier[r] = f"in {self.s.periods[d]}: {text}" if d < k else text
        for j, i, before in zip(pending, sub.tolist(), earlier):
            parts = [p for p in (before, self.grace(i, k)) if p]
            out[j] = "; ".join(parts) or (
                f"{self.tiers[int(self.sc.steps[k].earned[i])]} under the scenario, "
                f"{self.tiers[int(self.b.steps[k].earned[i])]} under the active program"
            )
        return out

    def checks(self, idx: np.ndarray, k: int, tier: np.ndarray, scenario_holds: np.ndarray) -> list[str]:
        """For each partner, the checks of ``tier`` met on the side holding it but not on the other.

        Empty when the holding side does not meet the tier in period ``k`` (it is in grace).
        """
        rb, rs = self.b.steps[k], self.sc.steps[k]
        reasons = [""] * len(idx)
        for t in np.unique(tier).tolist():
            if t == 0:
                continue
            rows = np.flatnonzero(tier == t)
            at = idx[rows]
            tb, ts = self.b.thresholds[t], self.sc.thresholds[t]
            sb, ss = rb.score[at], rs.score[at]
            nan = np.full(len(rows), np.nan)
            checks = [
                _Check(
                    "min_score",
                    "score",
                    sb,
                    ss,
                    tb.min_score[at],
                    ts.min_score[at],
                    ev.score_met(sb, tb.min_score[at]),
                    ev.score_met(ss, ts.min_score[at]),
                )
            ]
            for kind, met, table in (("gate", ev.gate_met, "gates"), ("maximum", ev.maximum_met, "maxima")):
                gates_b, gates_s = getattr(tb, table), getattr(ts, table)
                for m in dict.fromkeys([*gates_b, *gates_s]):
                    gb = gates_b[m][at] if m in gates_b else nan
                    gs = gates_s[m][at] if m in gates_s else nan
                    vb = rb.values[m][at] if m in rb.values else np.zeros(len(rows))
                    vs = rs.values[m][at] if m in rs.values else np.zeros(len(rows))
                    checks.append(_Check(kind, m, vb, vs, gb, gs, met(vb, gb), met(vs, gs)))
            name = self.tiers[t]
            holds = np.asarray(scenario_holds)[rows]
            # only when the side holding the tier meets it do its checks explain the move
            holder_meets = np.ones(len(rows), dtype=bool)
            for c in checks:
                holder_meets &= np.where(holds, c.met_s, c.met_b)
            for c in checks:
                decisive = holder_meets & np.where(holds, c.met_s & ~c.met_b, c.met_b & ~c.met_s)
                for r in np.flatnonzero(decisive).tolist():
                    text = _describe(c, r, name)
                    j = int(rows[r])
                    reasons[j] = f"{reasons[j]}; {text}" if reasons[j] else text
        return reasons

    def grace(self, i: int, k: int) -> str:
        """The grace story in period ``k``: the scenario keeps the tier in grace, or its grace ran out.

        (When the checks in ``k`` do not explain a move, the side holding the tier is in grace.)
        """
        rb, rs = self.b.steps[k], self.sc.steps[k]
        gb, gs = self.b.program.grace_periods, self.sc.program.grace_periods
        change = "" if gb == gs else f" ({'raised' if gs > gb else 'lowered'} from {gb})"
        tier = self.tiers[int(max(rb.earned[i], rs.earned[i]))]
        if rs.earned[i] > rb.earned[i] and rs.event[i] == ev.GRACE:
            below = int(rs.below[i])
            extra = f" (grace_periods raised from {gb})" if gs > gb else ""
            return f"grace: {below} of {gs} period{'s' if gs != 1 else ''} below {tier}{extra}"
        if rs.earned[i] < rb.earned[i] and rs.event[i] == ev.DEMOTED:
            return f"grace over: {gs + 1} period{'s' if gs else ''} below {tier} > grace_periods {gs}{change}"
        return ""


def _num(kind: str, value: float) -> str:
    return f"{value:,.2f}" if kind == "min_score" else fmt(float(value))


def _describe(c: _Check, r: int, tier: str) -> str:
    """One check met on the side holding ``tier`` and not on the other, in plain words.

    The numbers are the scenario's; the active program's follow in brackets where they differ.
    """
    vb, vs, tb, ts = float(c.value_b[r]), float(c.value_s[r]), float(c.thr_b[r]), float(c.thr_s[r])
    ok, fails = {"gate": (">=", "<"), "maximum": ("<=", ">"), "min_score": (">=", "<")}[c.kind]
    if math.isnan(ts):  # switched off in the scenario: it failed under the active program
        was = f"{_num(c.kind, vb)} {fails} {fmt(tb)}"
        if c.kind == "min_score":
            return f"min_score for {tier} switched off (score {was})"
        return f"{tier} {c.kind} {c.metric} switched off (was {was})"
    sign = ok if bool(c.met_s[r]) else fails
    value = _num(c.kind, vs)
    if c.kind == "min_score":
        if vs != vb:
            value += f" (was {_num(c.kind, vb)})"
        text = f"score {value} {sign} min_score {fmt(ts)} for {tier}"
    else:
        text = f"{tier} {c.kind} {c.metric} {value} {sign} {fmt(ts)}"
    if math.isnan(tb):
        text += " (new)"
    elif tb != ts:
        text += f" ({'raised' if ts > tb else 'lowered'} from {fmt(tb)})"
    return text


# =============================================================================== editing


KNOB_KINDS = ("grace_periods", "at_risk_margin", "points", "target", "min_score", "gate", "maximum", "benefit")


@dataclass(frozen=True)
class Knob:
    """One editable number of a program file.

    ``path`` leads into the parsed TOML document (strings and list indices). Indices shift
    when a score component is switched off: read :func:`editable_values` again after each edit.
    """

    key: str  # unique in one program, e.g. "requirements.Gold.gates.revenue"
    path: tuple
    kind: str  # one of KNOB_KINDS
    group: str  # "Program", "Score", a tier name, "Benefits": for grouping on a screen
    label: str  # plain words: "Gold (LATAM) gate revenue"
    value: float | None  # None: not set
    removable: bool  # apply_edit(..., None) switches it off
    integer: bool = False


def _key_text(path: Sequence) -> str:
    parts = []
    for p in path:
        if isinstance(p, int):
            parts[-1] += f"[{p}]"
        else:
            parts.append(p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else json.dumps(p, ensure_ascii=False))
    return ".".join(parts)


def _knob(path: tuple, kind: str, group: str, label: str, value, removable: bool, integer: bool = False) -> Knob:
    return Knob(_key_text(path), path, kind, group, label, None if value is None else float(value), removable, integer)


def _document(program: Program | str) -> dict[str, Any]:
    text = program.source if isinstance(program, Program) else program
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ServiceError(f"not valid TOML: {exc}") from None


def editable_values(program: Program | str) -> list[Knob]:
    """Every editable number of a program, in file order.

    Includes each tier's min_score even when unset, and, when the program names a
    revenue_metric, each tier's discount, rebate and mdf (unset: None) so they can be added.
    """
    doc = _document(program)
    head = doc.get("program", {})
    knobs = [
        _knob(
            ("program", "grace_periods"),
            "grace_periods",
            "Program",
            "grace periods",
            head.get("grace_periods", 0),
            False,
            True,
        ),
        _knob(
            ("program", "at_risk_margin"),
            "at_risk_margin",
            "Program",
            "at-risk margin",
            head.get("at_risk_margin", 0.10),
            False,
        ),
    ]
    for i, comp in enumerate(doc.get("score", [])):
        metric = comp.get("metric", "?")
        for kind in ("points", "target"):
            knobs.append(_knob(("score", i, kind), kind, "Score", f"score {metric} {kind}", comp.get(kind), True))
    tiers = head.get("tiers", [])
    for tier, spec in doc.get("requirements", {}).items():
        base = ("requirements", tier)
        knobs += _rule_knobs(base, spec, tier, tier, base_rule=True)
        for v, vspec in enumerate(spec.get("variants", [])):
            named = " / ".join(str(vspec[k]) for k in ("region", "partner_type") if k in vspec)
            knobs += _rule_knobs((*base, "variants", v), vspec, tier, f"{tier} ({named})", base_rule=False)
    if head.get("revenue_metric"):
        benefits = doc.get("benefits", {})
        for tier in tiers:
            for kind in BENEFIT_KINDS:
                knobs.append(
                    _knob(
                        ("benefits", tier, kind),
                        "benefit",
                        "Benefits",
                        f"{tier} {kind}",
                        benefits.get(tier, {}).get(kind),
                        True,
                    )
                )
    return knobs


def _rule_knobs(path: tuple, spec: Mapping[str, Any], tier: str, label: str, base_rule: bool) -> list[Knob]:
    knobs = []
    if base_rule or "min_score" in spec:
        knobs.append(_knob((*path, "min_score"), "min_score", tier, f"{label} min_score", spec.get("min_score"), True))
    for table, kind in (("gates", "gate"), ("maxima", "maximum")):
        for metric, value in spec.get(table, {}).items():
            knobs.append(_knob((*path, table, metric), kind, tier, f"{label} {kind} {metric}", value, True))
    return knobs


def gate_knob(program: Program | str, tier: str, metric: str, kind: str = "gate", variant: int | None = None) -> Knob:
    """A knob for a gate or maximum (``kind="maximum"``) that may not exist yet, to add it with apply_edit."""
    if kind not in ("gate", "maximum"):
        raise ServiceError(f"kind must be 'gate' or 'maximum', not {kind!r}")
    doc = _document(program)
    spec = doc.get("requirements", {}).get(tier)
    if spec is None:
        raise ServiceError(f"tier {tier!r} has no requirements (tiers above the entry tier have)")
    path: tuple = ("requirements", tier)
    label = tier
    if variant is not None:
        variants = spec.get("variants", [])
        if not 0 <= variant < len(variants):
            raise ServiceError(f"{tier} has no variant {variant + 1}")
        spec = variants[variant]
        path = (*path, "variants", variant)
        named = " / ".join(str(spec[k]) for k in ("region", "partner_type") if k in spec)
        label = f"{tier} ({named})"
    table = "gates" if kind == "gate" else "maxima"
    return _knob((*path, table, metric), kind, tier, f"{label} {kind} {metric}", spec.get(table, {}).get(metric), True)


def apply_edit(program_text: str, knob: Knob, new_value: float | None) -> str:
    """The program text with ``knob`` set to ``new_value`` (None: switch it off), re-validated.

    Switching off a score component's points or target removes the component. Raises
    :class:`ServiceError` with the parser's message when the result is not a valid program.
    """
    doc = _document(program_text)
    if knob.kind not in KNOB_KINDS:
        raise ServiceError(f"unknown kind of value {knob.kind!r}")
    if new_value is None:
        if not knob.removable:
            raise ServiceError(f"{knob.label} cannot be switched off")
        _remove(doc, knob)
    else:
        if isinstance(new_value, bool) or not isinstance(new_value, (int, float)) or not math.isfinite(new_value):
            raise ServiceError(f"{knob.label}: {new_value!r} is not a number")
        value: int | float = float(new_value)
        if knob.integer or knob.kind == "grace_periods":
            if not value.is_integer():
                raise ServiceError(f"{knob.label} must be a whole number, not {new_value!r}")
            value = int(value)
        elif value.is_integer() and knob.kind != "at_risk_margin" and abs(value) < 2**53:
            value = int(value)
        _set(doc, knob.path, value)
    text = dumps(doc)
    try:
        parse_program(text, "scenario")
    except ProgramError as exc:
        raise ServiceError(f"{knob.label} = {new_value!r}: {exc}") from None
    return text


def _walk(doc: dict, path: Sequence, create: bool):
    node: Any = doc
    for step in path[:-1]:
        if isinstance(step, int):
            if not isinstance(node, list) or not 0 <= step < len(node):
                raise ServiceError(f"{_key_text(path)}: not in this program")
            node = node[step]
        else:
            if step not in node:
                if not create:
                    return None
                node[step] = {}
            node = node[step]
            if not isinstance(node, (dict, list)):
                raise ServiceError(f"{_key_text(path)}: not in this program")
    return node


def _set(doc: dict, path: Sequence, value) -> None:
    node = _walk(doc, path, create=True)
    node[path[-1]] = value


def _remove(doc: dict, knob: Knob) -> None:
    path = knob.path
    if knob.kind in ("points", "target"):
        score = doc.get("score", [])
        i = path[1]
        if not isinstance(i, int) or not 0 <= i < len(score):
            raise ServiceError(f"{knob.key}: not in this program")
        del score[i]
        return
    node = _walk(doc, path, create=False)
    if node is None or path[-1] not in node:
        return  # already off
    del node[path[-1]]
    if path[-2] in ("gates", "maxima") and not node:
        parent = _walk(doc, path[:-1], create=False)
        del parent[path[-2]]
    if path[0] == "benefits" and not node:
        del doc["benefits"][path[1]]
        if not doc["benefits"]:
            del doc["benefits"]


# ------------------------------------------------------------------ a TOML writer for program files

_INLINE = ("gates", "maxima")
_BARE = re.compile(r"[A-Za-z0-9_-]+")


def dumps(doc: Mapping[str, Any]) -> str:
    """TOML text for a program document (the dict tomllib gives): tables, arrays of tables, inline gates."""
    out: list[str] = []
    _write_table(out, (), doc, header=None)
    return "\n".join(out).lstrip("\n") + "\n"


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _is_subtable(key: str, value: Any) -> bool:
    return isinstance(value, dict) and key not in _INLINE


def _write_table(out: list[str], path: tuple, table: Mapping[str, Any], header: str | None) -> None:
    plain = [(k, v) for k, v in table.items() if not _is_subtable(k, v) and not _is_table_array(v)]
    nested = [(k, v) for k, v in table.items() if _is_subtable(k, v) or _is_table_array(v)]
    if header is not None:
        out += ["", header]
    elif path and (plain or not nested):
        out += ["", f"[{'.'.join(_toml_key(p) for p in path)}]"]
    for k, v in plain:
        out.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in nested:
        sub = (*path, k)
        if isinstance(v, dict):
            _write_table(out, sub, v, header=None)
        else:
            for item in v:
                _write_table(out, sub, item, header=f"[[{'.'.join(_toml_key(p) for p in sub)}]]")


def _toml_key(key: str) -> str:
    return key if _BARE.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    body = []
    for ch in text:
        if ch == '"':
            body.append('\\"')
        elif ch == "\\":
            body.append("\\\\")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            body.append(f"\\u{ord(ch):04x}")
        else:
            body.append(ch)
    return '"' + "".join(body) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise ServiceError(f"cannot write {value!r} as TOML")


# =============================================================================== persistence


@dataclass(frozen=True)
class SavedScenario:
    id: int
    name: str
    content: str
    base_program_id: int | None
    base_version: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def program(self) -> Program:
        return _parse(self.content, self.name)


def _parse(text: str, name: str) -> Program:
    try:
        return parse_program(text, name)
    except ProgramError as exc:
        raise ServiceError(str(exc)) from None


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ServiceError("a scenario needs a name")
    return name


def _saved(session: Session, row: Scenario) -> SavedScenario:
    version = session.get(ProgramVersion, row.base_program_id) if row.base_program_id is not None else None
    return SavedScenario(
        row.id,
        row.name,
        row.content,
        row.base_program_id,
        version.version if version else None,
        row.created_by,
        row.created_at,
        row.updated_at,
    )


def save_scenario(engine: Engine, user: str, name: str, text: str) -> SavedScenario:
    """Keep ``text`` under ``name`` (replacing a scenario of that name), based on the active version."""
    name = _clean_name(name)
    program = _parse(text, name)
    version = active_version(engine)
    with Session(engine) as session, session.begin():
        roles.require(session, user, "manager", "saving scenarios")
        row = session.exec(select(Scenario).where(Scenario.name == name)).first()
        created = row is None
        if row is None:
            row = Scenario(name=name, content=text, created_by=user)
            session.add(row)
        row.content = text
        row.updated_at = utcnow()
        row.base_program_id = version.id if version is not None else None
        session.flush()
        audit.record(
            session,
            user,
            "scenario.save",
            "scenario",
            row.id,
            name=name,
            created=created,
            program=program.name,
            base_version=version.version if version else None,
        )
        return _saved(session, row)


def list_scenarios(engine: Engine) -> list[SavedScenario]:
    with Session(engine) as session:
        return [_saved(session, r) for r in session.exec(select(Scenario).order_by(Scenario.name))]


def open_scenario(engine: Engine, name: str) -> SavedScenario:
    with Session(engine) as session:
        row = session.exec(select(Scenario).where(Scenario.name == name)).first()
        if row is None:
            names = [r.name for r in session.exec(select(Scenario))]
            from ..scoring import suggest

            raise ServiceError(f"no scenario named {name!r}" + suggest(name, names))
        return _saved(session, row)


def export_scenario(engine: Engine, name: str, path: str | Path) -> Path:
    """Write the scenario's program file to ``path`` ("-": standard output)."""
    saved = open_scenario(engine, name)
    if str(path) == "-":
        sys.stdout.write(saved.content)
        return Path("-")
    path = Path(path)
    try:
        path.write_text(saved.content, encoding="utf-8")
    except OSError as exc:
        raise ServiceError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def activate_scenario(engine: Engine, user: str, name: str) -> ProgramVersion:
    """Make the scenario the active program: a new program version (earlier versions stay).

    Results are not re-levelled here, as with ``tiertui program load``: run levelling next.
    """
    roles.check(engine, user, "admin", "activating scenarios")
    saved = open_scenario(engine, name)
    version = store_program(engine, saved.program, user, f"scenario {name}")
    with Session(engine) as session, session.begin():
        audit.record(
            session,
            user,
            "scenario.activate",
            "scenario",
            saved.id,
            name=name,
            program_version=version.version,
            program_id=version.id,
        )
    return version


def delete_scenario(engine: Engine, user: str, name: str) -> None:
    saved = open_scenario(engine, name)
    with Session(engine) as session, session.begin():
        roles.require(session, user, "manager", "deleting scenarios")
        row = session.get(Scenario, saved.id)
        session.delete(row)
        audit.record(session, user, "scenario.delete", "scenario", saved.id, name=name)


# =============================================================================== CLI entry


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
