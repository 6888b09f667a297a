"""`tiertui demo` data: deterministic, realistic enough to show every feature, refuses to clobber."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tiertui.scoring import parse_period
from tiertui.services import overrides
from tiertui.services.demo import build_demo, demo_periods, demo_program
from tiertui.services.errors import ServiceError
from tiertui.storage import open_engine
from tiertui.storage.queries import fetchall

SMALL = 300


def _rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return fetchall(conn, sql)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two databases built with the same seed, and their reports."""
    folder = tmp_path_factory.mktemp("demo")
    engines, reports = [], []
    for name in ("a", "b"):
        engine = open_engine(f"sqlite:///{folder / name}.db")
        engines.append(engine)
        reports.append(build_demo(engine, partners=SMALL, seed=2026, user="tester"))
    yield engines, reports
    for engine in engines:
        engine.dispose()


def test_demo_program_is_the_documented_shape():
    program = demo_program()
    assert program.tiers == ("Authorized", "Silver", "Gold", "Platinum")
    assert program.frequency == "quarterly" and program.grace_periods == 2
    assert program.max_score == 100
    assert {"Operational Excellence"} <= {b.name for b in program.badges}
    assert program.revenue_metric == "revenue" and set(program.benefits) == set(program.tiers)
    assert {"uc", "cloud", "contact_center", "sales"} <= {
        m.split(":", 1)[1] for m in program.used_metrics() if m.startswith("cert:")
    }
    variants = [v for r in program.requirements.values() for v in r.variants]
    assert {"LATAM", "APAC"} <= {v.region for v in variants}
    assert {"Service Provider", "MSP"} <= {v.partner_type for v in variants}


def test_six_quarters_end_at_last_full_quarter():
    assert [p.label for p in demo_periods(date(2026, 11, 23))] == [
        "2025-Q2",
        "2025-Q3",
        "2025-Q4",
        "2026-Q1",
        "2026-Q2",
        "2026-Q3",
    ]
    assert demo_periods(date(2026, 1, 1))[-1].label == "2025-Q4"


def test_same_seed_gives_the_same_database(built):
    (a, b), (ra, rb) = built
    queries = (
        "SELECT * FROM partner ORDER BY key",
        "SELECT * FROM metric_value ORDER BY period, metric, partner_key",
        "SELECT partner_key, person, certification, track, earned_on, expires_on FROM certification "
        "ORDER BY partner_key, person, certification",
        "SELECT partner_key, tier, reason, starts_on, expires_on, status, requested_by, decided_by "
        "FROM tier_override ORDER BY id",
        "SELECT period, partner_key, score, qualified_tier, earned_tier, effective_tier, event, below, at_risk, "
        "badges, group_values FROM level_result ORDER BY period, partner_key",
    )
    for sql in queries:
        rows = _rows(a, sql)
        assert rows, sql
        assert rows == _rows(b, sql), sql
    assert ra.summary == rb.summary


def test_other_seed_gives_other_partners(tmp_path, built):
    (a, _), _ = built
    engine = open_engine(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        build_demo(engine, partners=50, seed=7)
        assert _rows(engine, "SELECT name FROM partner ORDER BY key") != _rows(
            a, "SELECT name FROM partner ORDER BY key LIMIT 50"
        )
    finally:
        engine.dispose()


def test_report_counts_what_is_stored(built):
    (engine, _), (report, _) = built
    assert report.partners == SMALL == _rows(engine, "SELECT COUNT(*) FROM partner")[0][0]
    assert report.metric_values == _rows(engine, "SELECT COUNT(*) FROM metric_value")[0][0]
    assert report.certifications == _rows(engine, "SELECT COUNT(*) FROM certification")[0][0]
    assert report.periods[0] == "2025-Q2" and report.periods[-1] == "2026-Q3"
    assert f"{SMALL} partners" in report.text()
    assert report.summary.partners == SMALL


def test_partners_look_real(built):
    (engine, _), _ = built
    rows = _rows(engine, "SELECT partner_id, name, region, country, partner_type, account_manager FROM partner")
    assert all(pid.startswith("P") and len(pid) == 7 for pid, *_ in rows)
    assert {r[2] for r in rows} == {"NA", "EMEA", "LATAM", "APAC"}
    assert {r[4] for r in rows} == {"VAR", "Service Provider", "MSP", "Distributor"}
    assert all(r[1] and r[3] and r[5] for r in rows)
    assert len({r[5] for r in rows}) >= 20


def test_every_tier_and_event_occurs(built):
    (engine, _), _ = built
    last = "2026-Q3"
    tiers = {t for (t,) in _rows(engine, f"SELECT DISTINCT earned_tier FROM level_result WHERE period = '{last}'")}
    assert tiers == {"Registered", "Silver", "Gold", "Platinum"}  # the 2026 version's
    first = {t for (t,) in _rows(engine, "SELECT DISTINCT earned_tier FROM level_result WHERE period = '2025-Q4'")}
    assert first == {"Authorized", "Silver", "Gold", "Platinum"}  # the first version's
    on_record = {t for (t,) in _rows(engine, "SELECT DISTINCT tier FROM partner WHERE tier IS NOT NULL")}
    assert len(on_record) == 4
    events = {e for (e,) in _rows(engine, "SELECT DISTINCT event FROM level_result")}
    assert {"promoted", "demoted", "grace", "held", "protected"} == events
    # the program change protects through 2026-06-30: 2026-Q1 and Q2, not Q3
    protected = dict(
        _rows(engine, "SELECT period, COUNT(*) FROM level_result WHERE event = 'protected' GROUP BY period")
    )
    assert set(protected) == {"2026-Q1", "2026-Q2"}
    at_risk = _rows(engine, f"SELECT COUNT(*) FROM level_result WHERE period = '{last}' AND at_risk")[0][0]
    assert 0 < at_risk < SMALL
    badges = {b for (b,) in _rows(engine, "SELECT DISTINCT badges FROM level_result") for b in b.split(";") if b}
    assert "Operational Excellence" in badges


def test_groups_have_subsidiaries_some_three_levels_deep(built):
    (engine, _), _ = built
    children = _rows(engine, "SELECT parent_id, COUNT(*) FROM partner WHERE parent_id IS NOT NULL GROUP BY parent_id")
    assert len(children) >= SMALL * 0.05
    assert all(1 <= count <= 7 for _, count in children)
    grandchildren = _rows(
        engine,
        "SELECT COUNT(*) FROM partner c JOIN partner p ON c.parent_id = p.partner_id WHERE p.parent_id IS NOT NULL",
    )[0][0]
    assert grandchildren > 0


def test_overrides_pending_and_decided_by_someone_else(built):
    (engine, _), (report, _) = built
    pending = overrides.list_overrides(engine, status="pending")
    approved = overrides.list_overrides(engine, status="approved")
    assert len(pending) == report.overrides_pending >= 20
    assert len({o.requested_by for o in pending}) >= 2
    assert approved and all(o.decided_by and o.decided_by != o.requested_by for o in approved)
    applied = _rows(engine, "SELECT COUNT(*) FROM level_result WHERE override_id IS NOT NULL")[0][0]
    assert applied > 0


def test_certifications_expiring_soon_and_expired(built):
    (engine, _), (report, _) = built
    end = parse_period("2026-Q3").end
    rows = _rows(engine, "SELECT partner_key, person, certification, earned_on, expires_on FROM certification")
    latest = {}  # a renewed certification's earlier rows are history: only the latest earning counts here
    for key, person, cert, earned, expires in rows:
        if (key, person, cert) not in latest or str(earned) > str(latest[key, person, cert][0]):
            latest[key, person, cert] = (earned, expires)
    expiry = [date.fromisoformat(str(x)) for _, x in latest.values() if x is not None]
    soon = sum(end < x <= end + timedelta(days=90) for x in expiry)
    expired = sum(x < end for x in expiry)
    assert soon > 0 and expired > 0
    assert soon == report.certifications_expiring and expired == report.certifications_expired
    assert any(x is None for *_, x in rows)  # some never expire
    tracks = {t for (t,) in _rows(engine, "SELECT DISTINCT track FROM certification")}
    assert tracks == {"uc", "cloud", "contact_center", "sales"}


def test_refuses_a_database_with_partners_unless_replacing(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        first = build_demo(engine, partners=40, seed=3)
        with pytest.raises(ServiceError, match="already has 40 partners"):
            build_demo(engine, partners=40, seed=3)
        again = build_demo(engine, partners=60, seed=3, replace=True)
        assert again.partners == 60 == _rows(engine, "SELECT COUNT(*) FROM partner")[0][0]
        assert first.partners == 40
        actions = [a for (a,) in _rows(engine, "SELECT action FROM audit_entry WHERE action = 'demo.build'")]
        assert actions == ["demo.build", "demo.build"]
    finally:
        engine.dispose()


def test_flags_are_reported_as_0_or_1(built):
    """v2: a partner that reported a quarter reports both flags, "no" as 0, so no is not missing."""
    (engine, _), _ = built
    flags = _rows(
        engine,
        "SELECT metric, value, COUNT(*) FROM metric_value WHERE metric IN ('business_plan', 'demo_capability') "
        "GROUP BY metric, value ORDER BY metric, value",
    )
    assert [(m, v) for m, v, _ in flags] == [
        ("business_plan", 0.0),
        ("business_plan", 1.0),
        ("demo_capability", 0.0),
        ("demo_capability", 1.0),
    ]
    reporting = _rows(engine, "SELECT COUNT(*) FROM metric_value WHERE period = '2026-Q3' AND metric = 'revenue'")[0][0]
    for metric in ("business_plan", "demo_capability", "escalations"):
        counted = _rows(engine, f"SELECT COUNT(*) FROM metric_value WHERE period = '2026-Q3' AND metric = '{metric}'")
        assert counted[0][0] == reporting, metric


def test_renewals_keep_their_history(built):
    """Some people earned the same certification again: a new row with new dates, before the old one
    expired (an early renewal) or after it lapsed."""
    (engine, _), _ = built
    rows = _rows(
        engine,
        "SELECT a.expires_on, b.earned_on FROM certification a JOIN certification b ON a.partner_key = b.partner_key "
        "AND a.person = b.person AND a.certification = b.certification AND b.earned_on > a.earned_on",
    )
    gaps = [(date.fromisoformat(str(b)) - date.fromisoformat(str(a))).days for a, b in rows if a is not None]
    assert sum(g < 0 for g in gaps) >= 5  # renewed before the old one expired
    assert sum(g >= 0 for g in gaps) >= 5  # renewed after it lapsed


def test_some_partners_have_no_latest_csat_and_it_is_carried(built):
    """A few partners reported the latest quarter without CSAT: missing = "previous" carries theirs."""
    (engine, _), _ = built
    from tiertui.services.read.engine import partner_scorecard

    missing = _rows(
        engine,
        "SELECT p.partner_id FROM partner p JOIN metric_value r ON r.partner_key = p.key AND r.period = '2026-Q3' "
        "AND r.metric = 'revenue' JOIN metric_value c ON c.partner_key = p.key AND c.period = '2026-Q2' "
        "AND c.metric = 'csat' WHERE NOT EXISTS (SELECT 1 FROM metric_value x WHERE x.partner_key = p.key "
        "AND x.period = '2026-Q3' AND x.metric = 'csat') ORDER BY p.partner_id",
    )
    assert SMALL * 0.02 <= len(missing) <= SMALL * 0.12
    pid = missing[0][0]
    card = partner_scorecard(engine, pid, "2026-Q3", date(2026, 11, 23)).card
    assert card is not None
    previous = _rows(
        engine,
        "SELECT value FROM metric_value JOIN partner ON key = partner_key "
        f"WHERE partner_id = '{pid}' AND period = '2026-Q2' AND metric = 'csat'",
    )[0][0]
    assert next(c.value for c in card.components if c.metric == "csat") == previous > 0
