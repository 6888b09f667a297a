"""Build scoring inputs from readable literals, for the rule tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from tiertui.scoring import (
    ApprovedOverride,
    Certifications,
    Inputs,
    Partners,
    parse_period,
    parse_program,
)
from tiertui.scoring.evaluate import NEVER, person_codes

BASE_PROGRAM = """
[program]
name = "Test"
frequency = "{frequency}"
grace_periods = {grace}
at_risk_margin = {margin}
tiers = ["Authorized", "Silver", "Gold", "Platinum"]

[metrics.revenue]
label = "Revenue"
[metrics.escalations]
rollup = "none"
[metrics.csat]
rollup = "none"

[[score]]
metric = "revenue"
points = 60
target = 1000
[[score]]
metric = "cert:uc"
points = 40
target = 4

[requirements.Silver]
min_score = 20

[requirements.Gold]
min_score = 50
gates = {{ revenue = 500, "cert:uc" = 2 }}
maxima = {{ escalations = 10 }}

[[requirements.Gold.variants]]
region = "LATAM"
gates = {{ revenue = 250 }}
min_score = 40

[[requirements.Gold.variants]]
region = "LATAM"
partner_type = "MSP"
gates = {{ revenue = 100 }}

[[requirements.Gold.variants]]
partner_type = "MSP"
maxima = {{ escalations = 20 }}

[requirements.Platinum]
min_score = 90
gates = {{ revenue = 900 }}

[[badges]]
name = "Happy Customers"
metric = "csat"
min = 90
[[badges]]
name = "Big Seller"
metric = "revenue"
min = 800
"""


def program(frequency="quarterly", grace=1, margin=0.10, text=None):
    return parse_program(text or BASE_PROGRAM.format(frequency=frequency, grace=grace, margin=margin))


@dataclass
class P:
    id: str
    region: str = ""
    type: str = ""
    parent: str | None = None
    tier: str | None = None


@dataclass
class Cert:
    partner: str
    person: str
    track: str
    earned: date
    expires: date | None = None


@dataclass
class Case:
    partners: list[P]
    periods: list[str]
    metrics: dict = field(default_factory=dict)  # (partner, period) -> {metric: value}
    certs: list[Cert] = field(default_factory=list)
    overrides: list = field(default_factory=list)  # (id, partner, tier, starts, expires, order)
    mask: bool = False  # pass Inputs.reported: a value is reported when its key is in ``metrics``

    def inputs(self, prog) -> Inputs:
        ids = [p.id for p in self.partners]
        pos = {pid: i for i, pid in enumerate(ids)}
        periods = [parse_period(x) for x in self.periods]
        names = sorted({m for values in self.metrics.values() for m in values})
        metrics = {m: np.zeros((len(periods), len(ids))) for m in names}
        reported = {m: np.zeros((len(periods), len(ids)), dtype=bool) for m in names}
        for (pid, label), values in self.metrics.items():
            for m, v in values.items():
                metrics[m][self.periods.index(label), pos[pid]] = v
                reported[m][self.periods.index(label), pos[pid]] = True
        certs = Certifications(
            np.array([pos[c.partner] for c in self.certs], dtype=np.int64),
            person_codes([c.person for c in self.certs]),
            [c.track for c in self.certs],
            np.array([c.earned.toordinal() for c in self.certs], dtype=np.int64),
            np.array([c.expires.toordinal() if c.expires else NEVER for c in self.certs], dtype=np.int64),
            [c.person for c in self.certs],
        )
        overrides = [
            ApprovedOverride(oid, pos[pid], prog.tier_index(tier), starts, expires, (order, oid))
            for oid, pid, tier, starts, expires, order in self.overrides
        ]
        return Inputs(
            Partners(
                ids,
                [p.region for p in self.partners],
                [p.type for p in self.partners],
                np.array([pos[p.parent] if p.parent else -1 for p in self.partners], dtype=np.int64),
                np.array([prog.tier_index(p.tier) if p.tier else 0 for p in self.partners], dtype=np.int64),
            ),
            periods,
            metrics,
            certs,
            overrides,
            reported if self.mask else None,
        )


def tiers_of(prog, results, attr: str, partner: int) -> list[str]:
    return [prog.tiers[int(getattr(r, attr)[partner])] for r in results]


def events_of(results, partner: int) -> list[str]:
    from tiertui.scoring import EVENTS

    return [EVENTS[int(r.event[partner])] for r in results]
