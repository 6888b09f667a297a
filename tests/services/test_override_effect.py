"""What deciding an override would change (spec §3.7), computed with the scoring module: each
levelled period whose effective tier moves, from what to what, and nothing else.

The program is ``db_builder``'s: score = revenue 60 points at 1,000 (no certifications here), so
a revenue of 300 is 18 points (Authorized) and 400 is 24 points (Silver, min score 20); grace is
one period. Every expected tier below is worked out by hand from those numbers.
"""

from __future__ import annotations

from datetime import date

import pytest
from db_builder import seed
from hostile_corpus import PARTNER_IDS
from sqlalchemy import text

from tiertui import cli
from tiertui.services import ServiceError, overrides, publishing
from tiertui.services.levelling import run_levelling
from tiertui.services.override_effect import Effect, PeriodChange, effect_of

QUARTERS = ("2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4")


def levelled(engine, partners, revenue: dict[str, tuple[float, ...]]):
    """``partners`` as db_builder.seed takes them, each one's revenue per quarter, then levelled."""
    metrics = [(pid, q, "revenue", v) for pid, values in revenue.items() for q, v in zip(QUARTERS, values)]
    seed(engine, partners=partners, metrics=metrics)
    run_levelling(engine, "ann")


def effective(engine) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.partner_id, r.period, r.effective_tier FROM level_result r "
                "JOIN partner p ON p.key = r.partner_key"
            )
        )
        return {(pid, period): tier for pid, period, tier in rows}


def assert_approval_does_what_it_said(engine, oid: int, predicted: Effect) -> None:
    """Approving changes exactly the predicted (partner, period) effective tiers, to the predicted tiers."""
    before = effective(engine)
    overrides.decide(engine, "bob", oid, approve=True)
    after = effective(engine)
    changed = {k: (before[k], after[k]) for k in after if before.get(k) != after[k]}
    assert changed == {(predicted.partner_id, c.period): (c.before, c.after) for c in predicted.changes}


def test_three_periods_in_the_window_two_change_and_the_period_after_its_end_is_not_listed(any_engine):
    # B2: Q1 300 and Q2 300 Authorized; Q3 400 promoted to Silver; Q4 300 grace (keeps Silver)
    levelled(any_engine, [("B2", "Bluepeak", "EMEA", "VAR", None, None)], {"B2": (300, 300, 400, 300)})
    oid = overrides.request(any_engine, "mia", "B2", "Silver", "launch", date(2026, 1, 1), date(2026, 9, 30))
    found = effect_of(any_engine, oid)
    assert found.action == "approving" and found.covered == ("2026-Q1", "2026-Q2", "2026-Q3")
    assert found.changes == (
        PeriodChange("2026-Q1", "Authorized", "Silver", "Authorized"),
        PeriodChange("2026-Q2", "Authorized", "Silver", "Authorized"),
    )
    assert found.lines() == [
        "Approving changes 2 periods of B2:",
        "  2026-Q1: Authorized → Silver (earned Authorized)",
        "  2026-Q2: Authorized → Silver (earned Authorized)",
    ]
    assert_approval_does_what_it_said(any_engine, oid, found)


def test_an_end_date_limits_the_effect_to_the_periods_that_end_inside_the_window(engine):
    levelled(engine, [("D4", "Dune", "EMEA", "VAR", None, None)], {"D4": (300, 300, 300, 300)})
    open_ended = overrides.request(engine, "mia", "D4", "Silver", "open", date(2026, 4, 1))
    dated = overrides.request(engine, "mia", "D4", "Silver", "dated", date(2026, 4, 1), date(2026, 9, 30))
    assert [c.period for c in effect_of(engine, open_ended).changes] == ["2026-Q2", "2026-Q3", "2026-Q4"]
    found = effect_of(engine, dated)
    assert [c.period for c in found.changes] == ["2026-Q2", "2026-Q3"]  # Q4 ends on 12-31, after the expiry
    assert_approval_does_what_it_said(engine, dated, found)


def test_a_request_for_the_tier_the_partner_has_changes_nothing(any_engine):
    levelled(any_engine, [("S5", "Sable", "EMEA", "VAR", None, None)], {"S5": (400, 400, 400, 400)})
    oid = overrides.request(any_engine, "mia", "S5", "Silver", "keep", date(2026, 1, 1))
    found = effect_of(any_engine, oid)
    assert found.changes == () and len(found.covered) == 4
    assert found.lines() == [
        "Approving changes nothing: S5 is Silver already in the 4 levelled periods 2026-Q1 to 2026-Q4."
    ]
    assert_approval_does_what_it_said(any_engine, oid, found)


def test_a_window_after_every_levelled_period_or_before_them_all_changes_nothing(engine):
    levelled(engine, [("S5", "Sable", "EMEA", "VAR", None, None)], {"S5": (300, 300, 300, 300)})
    oid = overrides.request(engine, "mia", "S5", "Gold", "next year", date(2027, 1, 1))
    assert effect_of(engine, oid).lines() == [
        "Approving changes no levelled period yet: its window starts after 2026-Q4, the latest levelled; "
        "the periods levelled later that end inside it will take it."
    ]
    oid = overrides.request(engine, "mia", "S5", "Gold", "last year", date(2025, 1, 1), date(2025, 12, 31))
    assert effect_of(engine, oid).lines() == ["Approving changes nothing: no levelled period ends inside its window."]


def test_a_parents_override_changes_only_the_parent_and_a_subsidiarys_only_the_subsidiary(any_engine):
    """Overrides change effective tiers only; roll-ups sum metrics (§3.2), never tiers, so neither the
    parent's results nor its subsidiary's move with the other's override."""
    partners = [("A1", "Acme", "EMEA", "VAR", None, None), ("C3", "Cirrus", "EMEA", "MSP", "A1", None)]
    # A1's group: 200 + 200 = 400 (Silver) every quarter; C3 alone: 200 (Authorized)
    levelled(any_engine, partners, {"A1": (200, 200, 200, 200), "C3": (200, 200, 200, 200)})
    on_parent = overrides.request(any_engine, "mia", "A1", "Platinum", "group deal", date(2026, 7, 1))
    found = effect_of(any_engine, on_parent)
    assert found.partner_id == "A1"
    assert [(c.period, c.before, c.after) for c in found.changes] == [
        ("2026-Q3", "Silver", "Platinum"),
        ("2026-Q4", "Silver", "Platinum"),
    ]
    assert_approval_does_what_it_said(any_engine, on_parent, found)  # C3 unchanged
    on_sub = overrides.request(any_engine, "mia", "C3", "Gold", "subsidiary deal", date(2026, 1, 1))
    found = effect_of(any_engine, on_sub)
    assert {c.period for c in found.changes} == set(QUARTERS)
    assert {(c.before, c.after) for c in found.changes} == {("Authorized", "Gold")}
    assert_approval_does_what_it_said(any_engine, on_sub, found)  # A1 (and its override) unchanged


def test_a_later_approval_wins_so_approving_says_the_tier_it_replaces(engine):
    levelled(engine, [("B2", "Bluepeak", "EMEA", "VAR", None, None)], {"B2": (300, 300, 300, 300)})
    gold = overrides.request(engine, "mia", "B2", "Gold", "first", date(2026, 1, 1))
    overrides.decide(engine, "bob", gold, approve=True)
    silver = overrides.request(engine, "mia", "B2", "Silver", "second", date(2026, 7, 1))
    found = effect_of(engine, silver)
    assert [(c.period, c.before, c.after, c.earned) for c in found.changes] == [
        ("2026-Q3", "Gold", "Silver", "Authorized"),
        ("2026-Q4", "Gold", "Silver", "Authorized"),
    ]
    assert_approval_does_what_it_said(engine, silver, found)


def test_revoking_an_approved_override_lists_the_periods_it_gives_back(engine):
    levelled(engine, [("B2", "Bluepeak", "EMEA", "VAR", None, None)], {"B2": (300, 300, 400, 300)})
    oid = overrides.request(engine, "mia", "B2", "Gold", "launch", date(2026, 4, 1))
    overrides.decide(engine, "bob", oid, approve=True)
    found = effect_of(engine, oid)
    assert found.action == "revoking"
    assert [(c.period, c.before, c.after) for c in found.changes] == [
        ("2026-Q2", "Gold", "Authorized"),
        ("2026-Q3", "Gold", "Silver"),
        ("2026-Q4", "Gold", "Silver"),  # grace keeps Silver
    ]
    before = effective(engine)
    overrides.revoke(engine, "cy", oid, "ended")
    after = effective(engine)
    assert {k[1]: (before[k], after[k]) for k in after if before[k] != after[k]} == {
        c.period: (c.before, c.after) for c in found.changes
    }
    assert effect_of(engine, oid).lines() == [f"Override #{oid} is revoked: it changes nothing."]


def test_a_long_list_is_cut_to_a_handful_and_says_how_many_more(engine):
    levelled(engine, [("B2", "Bluepeak", "EMEA", "VAR", None, None)], {"B2": (300, 300, 300, 300)})
    oid = overrides.request(engine, "mia", "B2", "Gold", "launch", date(2026, 1, 1))
    lines = effect_of(engine, oid).lines(shown=2)
    assert lines == [
        "Approving changes 4 periods of B2:",
        "  2026-Q1: Authorized → Gold (earned Authorized)",
        "  2026-Q2: Authorized → Gold (earned Authorized)",
        "  and 2 more periods (2026-Q4 last)",
    ]


def test_a_published_period_that_would_change_is_named(engine):
    levelled(engine, [("B2", "Bluepeak", "EMEA", "VAR", None, None)], {"B2": (300, 300, 300, 300)})
    publishing.publish(engine, "bob", "2026-Q2")
    oid = overrides.request(engine, "mia", "B2", "Gold", "launch", date(2026, 4, 1))
    found = effect_of(engine, oid)
    assert found.published == ("2026-Q2",)
    assert found.lines()[-1] == "  2026-Q2 is published: approving would be refused until unpublished."


def test_nothing_levelled_yet_and_an_unknown_override(engine):
    seed(engine)
    oid = overrides.request(engine, "mia", "B2", "Gold", "launch", date(2026, 1, 1))
    assert effect_of(engine, oid).lines() == [
        "Approving changes no result yet: nothing is levelled (L levels every period)."
    ]
    with pytest.raises(ServiceError, match="no override 999"):
        effect_of(engine, 999)


@pytest.mark.parametrize("pid", PARTNER_IDS[:4])
def test_a_hostile_partner_id_is_carried_as_it_is(engine, pid):
    levelled(engine, [(pid, "Evil", "EMEA", "VAR", None, None)], {pid: (300, 300, 300, 300)})
    oid = overrides.request(engine, "mia", pid, "Silver", "x", date(2026, 10, 1))
    found = effect_of(engine, oid)
    assert found.partner_id == pid and [c.period for c in found.changes] == ["2026-Q4"]


def run_cli(engine, capsys, *args, user="ann") -> tuple[int, str, str]:
    url = engine.url.render_as_string(hide_password=False)
    code = cli.main([*args, "--db", url, "--user", user])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_override_show_prints_the_request_and_every_period_it_changes(any_engine, capsys):
    levelled(any_engine, [("B2", "Bluepeak", "EMEA", "VAR", None, None)], {"B2": (300, 300, 400, 300)})
    reason = "launch\x1b[2J\r[bold]now"
    oid = overrides.request(any_engine, "mia", "B2", "Silver", reason, date(2026, 1, 1), date(2026, 9, 30))
    code, out, _ = run_cli(any_engine, capsys, "override", "show", str(oid), user="viv")  # a viewer may read
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == f"Override {oid}: B2 Bluepeak → Silver, from 2026-01-01 to 2026-09-30"
    assert lines[1] == "Status: pending"
    assert lines[2].endswith("Reason: launch\\x1b[2J\\r[bold]now")  # shown literally, nothing run
    assert lines[3:] == [
        "Approving changes 2 periods of B2:",
        "  2026-Q1: Authorized → Silver (earned Authorized)",
        "  2026-Q2: Authorized → Silver (earned Authorized)",
    ]
    overrides.decide(any_engine, "bob", oid, approve=True, note="fine")
    overrides.revoke(any_engine, "cy", oid, "ended")
    _, out, _ = run_cli(any_engine, capsys, "override", "show", str(oid))
    assert "Approved by bob at" in out and "Note: fine" in out
    assert "Revoked by cy at" in out and out.endswith(f"Override #{oid} is revoked: it changes nothing.\n")
    code, _, err = run_cli(any_engine, capsys, "override", "show", "999")
    assert code == 1 and "no override 999" in err
