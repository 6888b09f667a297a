"""A what-if's result for one period, next to the active program's: counts, costs, movers, and its
text, CSV and JSON forms (what ``tiertui whatif --format`` writes)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from ...safe_text import spreadsheet_text
from ...scoring.program import BENEFIT_KINDS
from .costs import Cost, CostSplit, regions_of
from .movers import Mover


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
            for region in regions_of(self.cost_before, self.cost_after):
                rb = self.cost_before.by_region.get(region, CostSplit()).total
                ra = self.cost_after.by_region.get(region, CostSplit()).total
                lines.append(f"  {region:<{rw}}  {rb:>15,.0f}  {ra:>15,.0f}  {ra - rb:>+15,.0f}")
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
