"""What-if for a new program version (spec v2 §3.11): movers and benefit cost with and without
the protection, hand-computed; the what-if equals ``tiertui level`` after loading the version."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from test_timeline import MAP, OLD_TIERS, Q, inputs, prog  # noqa: E402

from tiertui.services.scenarios.versions import VersionSession  # noqa: E402

BENEFITS = """
[benefits.Silver]
discount = 0.05
[benefits.Gold]
discount = 0.10
mdf = 0.01
"""


def new_version(through: str = "2026-12-31"):
    head = 'effective_from = "2026-07-01"\nrevenue_metric = "revenue"'
    return prog(
        '["Authorized", "Silver", "Gold", "Platinum"]',
        head=head,
        tail=MAP + f'protect_through = "{through}"\n' + BENEFITS,
        name="New",
    )


def test_protection_cost_is_one_number():
    old = prog(OLD_TIERS, name="Old")
    # p0 Premium (200) before the change, then 50: with protection Gold in Q3 and Q4 (protected),
    # without it Authorized from Q3 (grace 0). Gold costs 10% + 1% of its own revenue 50 = 5.5 a
    # quarter: 11 over the two governed quarters. p1 stays Gold (200): 22 a quarter either way.
    data = inputs(Q[:4], [[200, 200], [200, 200], [50, 200], [50, 200]])
    session = VersionSession([old], data, ["Zero", "One"], ["EMEA", "EMEA"])
    result = session.evaluate(new_version(), "v2.toml")
    assert [p.period for p in result.periods] == ["2026-Q3", "2026-Q4"]
    assert result.protected_partners == 1
    assert round(result.protection_cost.discount, 6) == 10.0
    assert round(result.protection_cost.mdf, 6) == 1.0
    assert result.headline() == "Protecting 1 partner through 2026-12-31 costs $11 in discounts and MDF."
    q3 = result.periods[0]
    # before (the old version goes on): p0 with 50 is demoted to Authorized (grace 0), p1 Premium
    assert q3.tiers_before == {"Authorized": 1, "Premium": 1}
    assert q3.tiers_with == {"Gold": 2} and q3.tiers_without == {"Authorized": 1, "Gold": 1}
    assert q3.protected == 1
    assert round(q3.cost_with.total.total, 6) == 5.5 + 22.0 and round(q3.cost_without.total.total, 6) == 22.0
    (mover,) = [m for m in result.movers if m.partner_id == "p0"]
    assert (mover.with_protection, mover.without_protection) == ("Gold", "Authorized")


def test_a_version_without_protect_through_protects_nobody():
    old = prog(OLD_TIERS, name="Old")
    data = inputs(Q[:4], [[200], [200], [50], [50]])
    scenario = prog(
        '["Authorized", "Silver", "Gold", "Platinum"]',
        head='effective_from = "2026-07-01"',
        tail=MAP,
        name="New",
    )
    result = VersionSession([old], data, ["Zero"], [""]).evaluate(scenario)
    assert result.protected_partners == 0
    assert result.headline() == "The new version protects nobody (its [transition] has no protect_through)."
