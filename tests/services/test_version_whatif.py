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


# ------------------------------------------------------------------ against the database

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tiertui.cli import main  # noqa: E402
from tiertui.services.scenarios import whatif  # noqa: E402
from tiertui.storage import open_engine  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "programs"


def _run(url: str, *args: str) -> None:
    assert main(["--db", url, "--user", "carol", *args]) == 0


@settings(max_examples=6, deadline=None)
@given(through=st.sampled_from(["2020-06-30", "2020-12-31", "2021-04-10"]), grace=st.integers(0, 2))
def test_the_whatif_of_a_dated_scenario_equals_level_after_loading_it(tmp_path_factory, through, grace):
    folder = FIXTURES / "poly_2020"
    tmp = tmp_path_factory.mktemp("whatif")
    url = f"sqlite:///{tmp / 'w.db'}"
    _run(url, "program", "load", str(folder / "before_2020-04.toml"))
    _run(url, "import", "partners", str(folder / "partners_before.csv"))
    _run(url, "import", "metrics", str(folder / "metrics_2020q1.csv"))
    _run(url, "level")
    text = (FIXTURES / "poly_2020.toml").read_text()
    text = text.replace('protect_through = "2021-04-10"', f'protect_through = "{through}"')
    text = text.replace("grace_periods = 1 ", f"grace_periods = {grace} ")
    scenario = tmp / "poly_scenario.toml"
    scenario.write_text(text)
    # the new version's data: accepted once a version declaring it is in force, so load it, import,
    # then put the first version back alone and compare the what-if with a load of the scenario
    _run(url, "program", "load", str(scenario))
    for name in ("metrics.csv", "metrics_2021q2.csv"):
        _run(url, "import", "metrics", str(folder / name))
    _run(url, "import", "certifications", str(folder / "certifications.csv"))
    _run(url, "program", "load", str(folder / "before_2020-04.toml"))
    engine = open_engine(url)
    try:
        result = whatif(engine, scenario)
        _run(url, "program", "load", str(scenario))
        with engine.connect() as conn:
            stored = {
                (pid, period): tier
                for pid, period, tier in conn.exec_driver_sql(
                    "SELECT p.partner_id, r.period, r.effective_tier FROM level_result r "
                    "JOIN partner p ON p.key = r.partner_key"
                )
            }
    finally:
        engine.dispose()
    assert [p.period for p in result.periods] == ["2020-Q2", "2020-Q3", "2020-Q4", "2021-Q1", "2021-Q2"]
    for p in result.periods:
        mine = {pid: tier for (pid, period), tier in stored.items() if period == p.period}
        assert result.tiers_by_partner(p.period) == mine, p.period
