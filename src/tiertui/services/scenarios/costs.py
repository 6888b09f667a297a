"""Benefit costs: each partner's own revenue times the benefit fractions of its effective tier.

Cost = sum over partners of the partner's *own* value of the program's ``revenue_metric`` (not the
group value, which would count a parent's subsidiaries' revenue twice) times the benefit fraction
of the partner's effective tier; negative revenue counts as 0. A program without
``revenue_metric`` costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...scoring import Program
from ...scoring.program import BENEFIT_KINDS, Benefits


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


def regions_of(*costs: Cost) -> list[str]:
    """Every region either side's cost names, sorted."""
    seen: dict[str, None] = {}
    for c in costs:
        seen.update(dict.fromkeys(c.by_region))
    return sorted(seen)


def benefit_cost(
    program: Program, revenue: np.ndarray, effective: np.ndarray, region_code: np.ndarray, region_names: np.ndarray
) -> Cost:
    """``program``'s benefit cost for partners with own ``revenue`` at tier index ``effective``;
    partner i's region is ``region_names[region_code[i]]``."""
    metric = program.revenue_metric
    if not metric:
        return Cost(None, CostSplit(), {})
    revenue = np.maximum(revenue, 0.0)
    split_total, split_region = {}, {}
    for kind in BENEFIT_KINDS:
        fraction = np.array(
            [getattr(program.benefits.get(t, Benefits()), kind) for t in program.tiers], dtype=np.float64
        )
        cost = revenue * fraction[effective]
        split_total[kind] = float(cost.sum())
        split_region[kind] = np.bincount(region_code, weights=cost, minlength=len(region_names))
    by_region = {
        str(r): CostSplit(*(float(split_region[kind][i]) for kind in BENEFIT_KINDS)) for i, r in enumerate(region_names)
    }
    return Cost(metric, CostSplit(**split_total), by_region)
