"""What-if for a new program version (spec v2 §3.11): a scenario with ``effective_from`` and a
``[transition]``, evaluated as if it were loaded, with and without its protection.

For the periods the new version would govern, each side is compared with the versions in force
today: tier counts, movers and benefit cost, so that the cost of protecting partners is one
number: the benefit cost with the protection minus the cost without it, summed over those periods
("protecting 412 partners through 2027-09-30 costs $1,900,000 in discounts, rebates and MDF").

The result with protection is exactly what ``tiertui level`` gives after ``tiertui program load``
of the scenario (the tests compare them); without protection is the same version with its
``protect_through`` taken out.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TextIO

import numpy as np

from ...safe_text import spreadsheet_text
from ...scoring import EvaluationError, Inputs, PeriodResult, Program, level_timeline, timeline_after_load
from ...scoring import evaluate as ev
from ...scoring.program import BENEFIT_KINDS, CERT_PREFIX
from ..errors import ServiceError
from .costs import Cost, CostSplit, benefit_cost


@dataclass(frozen=True)
class PeriodCompare:
    """One period the new version would govern: today's versions (before) against the new one,
    with its protection and without."""

    period: str
    tiers_before: dict[str, int]
    tiers_with: dict[str, int]
    tiers_without: dict[str, int]
    cost_before: Cost
    cost_with: Cost
    cost_without: Cost
    moved_with: int  # partners whose effective tier changes (by name) against before
    moved_without: int
    protected: int  # partners with the event ``protected``


@dataclass(frozen=True)
class VersionMover:
    """A partner whose effective tier in the last governed period differs between the sides."""

    partner_id: str
    name: str
    before: str
    with_protection: str
    without_protection: str


@dataclass
class VersionWhatIf:
    name: str
    program: str
    effective_from: date | None
    protect_through: date | None
    protect: str
    partners: int
    periods: list[PeriodCompare]
    protected_partners: int  # partners whose effective tier is higher with protection in some governed period
    protection_cost: CostSplit  # (with - without), summed over the governed periods
    revenue_metric: str | None
    _movers: Callable[[], list[VersionMover]] = field(repr=False)
    _cache: list[VersionMover] | None = field(default=None, repr=False)
    _tiers: Callable[[str, bool], dict[str, str]] | None = field(default=None, repr=False)

    def tiers_by_partner(self, period: str, protected: bool = True) -> dict[str, str]:
        """partner_id -> effective tier in a governed ``period``, with the protection or without."""
        return self._tiers(period, protected) if self._tiers is not None else {}

    @property
    def movers(self) -> list[VersionMover]:
        if self._cache is None:
            self._cache = self._movers()
        return self._cache

    def headline(self) -> str:
        """The cost of protection in one sentence."""
        if not self.periods:
            return "The new version governs no period with data yet: nothing to compare."
        if self.protect_through is None:
            return "The new version protects nobody (its [transition] has no protect_through)."
        who = f"{self.protected_partners:,} partner{'s' if self.protected_partners != 1 else ''}"
        through = self.protect_through.isoformat()
        if not self.revenue_metric:
            return f"Protecting {who} through {through}: the program names no revenue_metric, so no benefit cost."
        kinds = [k for k in BENEFIT_KINDS if getattr(self.protection_cost, k)] or list(BENEFIT_KINDS)
        words = {"discount": "discounts", "rebate": "rebates", "mdf": "MDF"}
        named = [words[k] for k in kinds]
        what = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
        return f"Protecting {who} through {through} costs ${self.protection_cost.total:,.0f} in {what}."

    def text(self, limit: int = 20) -> str:
        head = f"What-if {self.name!r}: {self.program}"
        if self.effective_from:
            head += f", in force from {self.effective_from.isoformat()}"
        lines = [head + f" ({self.partners:,} partners).", "", self.headline()]
        if not self.periods:
            return "\n".join(lines)
        lines += ["", f"Periods it would govern: {self.periods[0].period} to {self.periods[-1].period}.", ""]
        lines.append(
            f"  {'Period':<9} {'moved (with)':>13} {'moved (without)':>16} {'protected':>10} "
            f"{'cost before':>15} {'cost with':>15} {'cost without':>15}"
        )
        for p in self.periods:
            lines.append(
                f"  {p.period:<9} {p.moved_with:>13,} {p.moved_without:>16,} {p.protected:>10,} "
                f"{p.cost_before.total.total:>15,.0f} {p.cost_with.total.total:>15,.0f} "
                f"{p.cost_without.total.total:>15,.0f}"
            )
        last = self.periods[-1]
        tiers = list(dict.fromkeys([*last.tiers_with, *last.tiers_before]))
        width = max(8, *(len(t) for t in tiers))
        lines += ["", f"Tiers in {last.period}:", f"  {'Tier':<{width}}  {'before':>9}  {'with':>9}  {'without':>9}"]
        for t in reversed(tiers):
            lines.append(
                f"  {t:<{width}}  {last.tiers_before.get(t, 0):>9,}  {last.tiers_with.get(t, 0):>9,}  "
                f"{last.tiers_without.get(t, 0):>9,}"
            )
        movers = self.movers
        if movers:
            lines += ["", f"Movers in {last.period} (before -> with protection / without):"]
            for m in movers[:limit]:
                lines.append(f"  {m.partner_id}  {m.name}: {m.before} -> {m.with_protection} / {m.without_protection}")
            if len(movers) > limit:
                lines.append(f"  ... and {len(movers) - limit:,} more (--format csv lists them all)")
        return "\n".join(lines)

    def csv(self, out: TextIO) -> None:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["partner_id", "before", "with_protection", "without_protection"])
        for m in self.movers:
            writer.writerow(
                [spreadsheet_text(c) for c in (m.partner_id, m.before, m.with_protection, m.without_protection)]
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "program": self.program,
            "effective_from": self.effective_from.isoformat() if self.effective_from else None,
            "protect_through": self.protect_through.isoformat() if self.protect_through else None,
            "protect": self.protect,
            "partners": self.partners,
            "protected_partners": self.protected_partners,
            "protection_cost": self.protection_cost.as_dict(),
            "headline": self.headline(),
            "periods": [
                {
                    "period": p.period,
                    "tiers_before": p.tiers_before,
                    "tiers_with": p.tiers_with,
                    "tiers_without": p.tiers_without,
                    "cost_before": p.cost_before.as_dict(),
                    "cost_with": p.cost_with.as_dict(),
                    "cost_without": p.cost_without.as_dict(),
                    "moved_with": p.moved_with,
                    "moved_without": p.moved_without,
                    "protected": p.protected,
                }
                for p in self.periods
            ],
            "movers": [m.__dict__ for m in self.movers],
        }

    def json(self, out: TextIO) -> None:
        json.dump(self.as_dict(), out, indent=2, ensure_ascii=False)
        out.write("\n")


def _metric_key(prog: Program, m: str) -> tuple:
    if m.startswith(CERT_PREFIX):
        return (m, "cert")
    spec = prog.metrics[m]
    return (m, spec.rollup, spec.missing)


class VersionSession:
    """The versions in force and the partner data, read once; any number of dated scenarios.

    ``own``: declared metric -> the partners' own values (n_periods, n_partners), for costs.
    Group values are computed once per set of metric definitions and reused across edits.
    """

    def __init__(
        self,
        timeline: Sequence[Program],
        inputs: Inputs,
        names: Sequence[str],
        regions: Sequence[str],
        load_metrics: Callable[[list[str], list[str]], None] | None = None,
    ) -> None:
        if not timeline:
            raise ServiceError("no program is loaded: run `tiertui program load FILE.toml` first")
        self.timeline = list(timeline)
        self.inputs = inputs
        self.ids = list(inputs.partners.ids)
        self.names = list(names)
        self.n = len(self.ids)
        labels = [r or "(no region)" for r in regions]
        if self.n:
            self.region_names, self.region_code = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
        else:
            self.region_names, self.region_code = np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
        self._load_metrics = load_metrics
        self._values: dict[tuple, tuple] = {}
        self._memo: dict = {}
        self._costs: dict = {}  # level_timeline's memo: periods and parts reused across edits
        self.baseline = self._level(self.timeline)

    @classmethod
    def open(cls, engine) -> VersionSession:
        """The versions in force and every input they read, from the database, read once."""
        from .. import timeline as stored
        from ..levelling import load_inputs

        versions = stored.programs(engine)
        if not versions:
            raise ServiceError("no program is loaded: run `tiertui program load FILE.toml` first")
        loaded = load_inputs(engine, versions[-1], versions=versions)

        def load_metrics(metrics: list[str], tracks: list[str]) -> None:
            missing = [m for m in metrics if m not in loaded.inputs.metrics]
            have = set(loaded.inputs.certifications.track)
            if not missing and all(t in have for t in tracks):
                return
            # a scenario reading data the versions in force do not: read it all again, with it
            more = load_inputs(engine, versions[-1], versions=versions, extra_metrics=metrics, extra_tracks=tracks)
            # load_inputs builds these as dicts; extend them in place (the Mapping type is read-only)
            own_metrics, own_reported = loaded.inputs.metrics, loaded.inputs.reported
            assert isinstance(own_metrics, dict)
            own_metrics.update(more.inputs.metrics)
            if more.inputs.reported is not None and own_reported is not None:
                assert isinstance(own_reported, dict)
                own_reported.update(more.inputs.reported)
            loaded.inputs.certifications = more.inputs.certifications

        return cls(versions, loaded.inputs, list(loaded.partners.name), list(loaded.partners.region), load_metrics)

    def _level(self, timeline: Sequence[Program]) -> list[PeriodResult]:
        ordered = sorted(timeline, key=lambda p: p.effective_from or date.min)
        key = tuple(sorted({_metric_key(p, m) for p in ordered for m in p.input_metrics()})) + tuple(
            sorted({t for p in ordered for t in ev._gated_tracks(p)})
        )
        if key not in self._values:
            wanted = sorted({m for p in ordered for m in p.input_metrics() if not m.startswith(CERT_PREFIX)})
            tracks = sorted(
                {m[len(CERT_PREFIX) :] for p in ordered for m in p.input_metrics() if m.startswith(CERT_PREFIX)}
            )
            if self._load_metrics is not None:
                self._load_metrics(wanted, tracks)
            self._values[key] = ev.timeline_values(ordered, self.inputs)
        per_version, sources, remaining = self._values[key]
        # timeline_values returns one entry per version of ``ordered``; another timeline with the
        # same metric definitions shares the arrays by name
        union: dict[str, np.ndarray] = {}
        for values in per_version:
            union.update(values)
        values = [{m: union[m] for m in p.input_metrics()} for p in ordered]
        try:
            return level_timeline(ordered, self.inputs, values, remaining=remaining, sources=sources, memo=self._memo)
        except EvaluationError as exc:
            raise ServiceError(str(exc)) from None

    def _own(self, metric: str | None, k: int) -> np.ndarray:
        if not metric:
            return np.zeros(self.n)
        raw = self.inputs.metrics.get(metric)
        return np.zeros(self.n) if raw is None else np.asarray(raw[k], dtype=np.float64)

    def _cost(self, r: PeriodResult, k: int) -> Cost:
        program = r.program
        assert program is not None
        return benefit_cost(
            program, self._own(program.revenue_metric, k), r.effective, self.region_code, self.region_names
        )

    def evaluate(self, scenario: Program, name: str = "scenario") -> VersionWhatIf:
        if scenario.effective_from is None:
            raise ServiceError(
                "the scenario has no [program] effective_from: a what-if for a new version needs the date it takes over"
            )
        for p in self.timeline:
            if p.frequency != scenario.frequency and (p.effective_from or date.min) < scenario.effective_from:
                raise ServiceError(
                    f"the scenario is {scenario.frequency} but {p.name!r} is {p.frequency}; "
                    "every evaluated period must be on one grid"
                )
        with_timeline = timeline_after_load(self.timeline, scenario)
        tr = scenario.transition
        unprotected = (
            dataclasses.replace(scenario, transition=dataclasses.replace(tr, protect_through=None))
            if tr is not None
            else scenario
        )
        without_timeline = [unprotected if p is scenario else p for p in with_timeline]
        with_results = self._level(with_timeline)
        without_results = self._level(without_timeline)
        base = {r.period.label: r for r in self.baseline}
        labels = [p.label for p in self.inputs.periods]
        periods: list[PeriodCompare] = []
        higher = np.zeros(self.n, dtype=bool)
        total = dict.fromkeys(BENEFIT_KINDS, 0.0)
        governed: list[tuple[PeriodResult, PeriodResult, PeriodResult | None]] = []
        for rw, ro in zip(with_results, without_results):
            if rw.program is not scenario:
                continue
            k = labels.index(rw.period.label)
            rb = base.get(rw.period.label)
            # before, as tier indices of the scenario (a tier it does not have: -1, a mover)
            if rb is not None and rb.program is not None:
                table = np.array([_index(scenario, t) for t in rb.program.tiers], dtype=np.int64)
                before = table[rb.effective]
                counts_before = _counts(rb.program.tiers, rb.effective)
            else:
                before = np.full(self.n, -2, dtype=np.int64)
                counts_before = {}
            higher |= rw.effective > ro.effective
            cw, co = self._cost(rw, k), self._cost(ro, k)
            if rb is None:
                cb = Cost(None, CostSplit(), {})
            else:
                if ("before", k) not in self._costs:
                    self._costs[("before", k)] = self._cost(rb, k)
                cb = self._costs[("before", k)]
            for kind in BENEFIT_KINDS:
                total[kind] += getattr(cw.total, kind) - getattr(co.total, kind)
            periods.append(
                PeriodCompare(
                    rw.period.label,
                    counts_before,
                    _counts(scenario.tiers, rw.effective),
                    _counts(scenario.tiers, ro.effective),
                    cb,
                    cw,
                    co,
                    int((rw.effective != before).sum()),
                    int((ro.effective != before).sum()),
                    int((rw.event == ev.PROTECTED).sum()),
                )
            )
            governed.append((rw, ro, rb))

        def movers() -> list[VersionMover]:
            if not governed:
                return []
            rw, ro, rb = governed[-1]
            w = np.asarray(scenario.tiers, dtype=object)[rw.effective]
            o = np.asarray(scenario.tiers, dtype=object)[ro.effective]
            b = (
                np.asarray(rb.program.tiers, dtype=object)[rb.effective]
                if rb is not None and rb.program is not None
                else np.full(self.n, "", dtype=object)
            )
            idx = np.flatnonzero((w != b) | (o != b))
            order = sorted(idx.tolist(), key=lambda i: self.ids[i])
            return [VersionMover(self.ids[i], self.names[i], b[i], w[i], o[i]) for i in order]

        by_period = {rw.period.label: (rw, ro) for rw, ro, _ in governed}

        def tiers(period: str, protected: bool) -> dict[str, str]:
            rw, ro = by_period[period]
            r = rw if protected else ro
            return dict(zip(self.ids, np.asarray(scenario.tiers, dtype=object)[r.effective].tolist()))

        return VersionWhatIf(
            name=name,
            program=scenario.name,
            effective_from=scenario.effective_from,
            protect_through=tr.protect_through if tr is not None else None,
            protect=tr.protect if tr is not None else "carried",
            partners=self.n,
            periods=periods,
            protected_partners=int(higher.sum()),
            protection_cost=CostSplit(**total),
            revenue_metric=scenario.revenue_metric,
            _movers=movers,
            _tiers=tiers,
        )


def _counts(tiers: Sequence[str], index: np.ndarray) -> dict[str, int]:
    """Partners per tier name (tiers with none left out)."""
    counts = np.bincount(index, minlength=len(tiers))
    return {t: int(c) for t, c in zip(tiers, counts.tolist()) if c}


def _index(program: Program, tier: str) -> int:
    return program.tier_index(tier) if tier in program.tiers else -1
