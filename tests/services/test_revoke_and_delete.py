"""Revoking an approved override (spec v2 §3.7) and ``tiertui delete`` (spec v2 §4), on SQLite and
PostgreSQL: who may, what is refused (and then nothing is written), the audit entry, and exactly
what is re-levelled in the same transaction (stored results equal a fresh full ``tiertui level``).

The data is ``db_builder.seed``'s: A1 (Gold on record, EMEA) with its subsidiary C3, and B2
(LATAM). Revenue: Q1 A1 400 + C3 200 (A1's group 600), B2 300; Q2 A1 100 + C3 100 (group 200),
B2 300. Score: revenue 60 points at 1,000, certified UC people 40 points at 4. Silver: score 20;
Gold: score 50, revenue 500, 2 UC people, at most 10 escalations (LATAM: revenue 250, score 40).
Grace: 1 period.
"""

from __future__ import annotations

from datetime import date

import pytest
from db_builder import FOUR_UC, seed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tiertui import cli
from tiertui.services import ServiceError, audit, deletes, exports, overrides
from tiertui.services.levelling import run_levelling

BASE_PARTNERS = [
    ("A1", "Acme", "EMEA", "VAR", None, "Gold"),
    ("B2", "Bluepeak", "LATAM", "VAR", None, None),
    ("C3", "Cirrus", "EMEA", "MSP", "A1", None),
]


def results(engine, period: str) -> dict:
    return {r.partner_id: r for r in exports.scorecard_rows(engine, period)}


def stored(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM level_result ORDER BY period, partner_key"))]


def assert_same_as_full(engine) -> None:
    """The stored results are those a fresh full ``tiertui level`` stores (it rewrites only differences)."""
    before = stored(engine)
    run_levelling(engine, "ann")
    assert stored(engine) == before


def audit_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM audit_entry")).scalar_one()


def keys_of(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT partner_id, key FROM partner")).all())


def periods_of_results(engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT DISTINCT period FROM level_result ORDER BY period"))]


@pytest.fixture
def approved(any_engine):
    """B2 (Authorized on its own: 300 revenue is 18 points < 20) with an approved Gold override from
    2026-01-01, requested by mia (a manager) and approved by bob; levelled."""
    seed(any_engine)
    run_levelling(any_engine, "ann")
    oid = overrides.request(any_engine, "mia", "B2", "Gold", "strategic launch", date(2026, 1, 1))
    overrides.decide(any_engine, "bob", oid, approve=True, note="agreed")
    for period in ("2026-Q1", "2026-Q2"):
        b2 = results(any_engine, period)["B2"]
        assert (b2.earned_tier, b2.effective_tier) == ("Authorized", "Gold")
    return any_engine, oid


# ============================================================================ revocation


def test_revocation_removes_the_override_from_effective_tiers_at_once(approved):
    engine, oid = approved
    view = overrides.revoke(engine, "cy", oid, "  partner left the launch programme ")
    assert (view.status, view.revoked_by, view.revoke_note) == ("revoked", "cy", "partner left the launch programme")
    assert (view.decided_by, view.note) == ("bob", "agreed")  # the approval is kept
    for period in ("2026-Q1", "2026-Q2"):  # no `tiertui level`: the revocation re-levelled B2 itself
        b2 = results(engine, period)["B2"]
        assert (b2.earned_tier, b2.effective_tier) == ("Authorized", "Authorized")
    assert_same_as_full(engine)
    assert [o.id for o in overrides.list_overrides(engine, "revoked")] == [oid]
    assert overrides.list_overrides(engine, "approved") == []


def test_the_approver_who_approved_may_revoke(approved):
    engine, oid = approved
    assert overrides.revoke(engine, "bob", oid, "approved by mistake").status == "revoked"


def test_the_app_can_ask_who_may_revoke_before_asking_for_a_note(approved):
    engine, oid = approved
    assert overrides.revocation_refused(engine, "cy", oid) is None
    assert overrides.revocation_refused(engine, "bob", oid) is None  # bob approved it: he may revoke it
    assert "mia is a manager; revoking overrides needs the approver role" in str(
        overrides.revocation_refused(engine, "mia", oid)
    )
    assert "needs the approver role" in str(overrides.revocation_refused(engine, "viv", oid))
    assert overrides.revocation_refused(engine, "cy", 999) == "no override 999"


def test_revocation_is_audited_with_the_note(approved):
    engine, oid = approved
    overrides.revoke(engine, "cy", oid, "no longer strategic")
    line = audit.entries(engine, "ann", partner_id="B2")[0]
    assert (line.actor, line.action) == ("cy", "override.revoke")
    assert line.summary == f"revoked override {oid} for B2 (Gold): approved -> revoked; note: no longer strategic"
    assert line.detail["approved_by"] == "bob"


@pytest.mark.parametrize(
    ("who", "note", "message"),
    [
        ("mo", "why", "mo is a manager; revoking overrides needs the approver role"),
        ("viv", "why", "viv is a viewer; revoking overrides needs the approver role"),
        ("cy", "", "needs a note saying why"),
        ("cy", "  \t ", "needs a note saying why"),
    ],
)
def test_revocation_refused_changes_nothing(approved, who, note, message):
    engine, oid = approved
    before, entries = stored(engine), audit_count(engine)
    with pytest.raises(ServiceError, match=message):
        overrides.revoke(engine, who, oid, note)
    assert overrides.get(engine, oid).status == "approved"
    assert stored(engine) == before
    assert audit_count(engine) == entries


def test_four_eyes_the_requester_may_not_revoke_even_as_an_approver(any_engine):
    """ann (an admin, so also an approver) requested it: someone else must revoke it."""
    seed(any_engine)
    run_levelling(any_engine, "ann")
    oid = overrides.request(any_engine, "ann", "B2", "Gold", "strategic", date(2026, 1, 1))
    overrides.decide(any_engine, "bob", oid, approve=True)
    entries = audit_count(any_engine)
    with pytest.raises(overrides.OwnRevocation, match=f"you requested override {oid}; someone else must revoke it"):
        overrides.revoke(any_engine, "ann", oid, "changed my mind")
    assert overrides.get(any_engine, oid).status == "approved"
    assert results(any_engine, "2026-Q2")["B2"].effective_tier == "Gold"
    assert audit_count(any_engine) == entries


def test_only_an_approved_override_can_be_revoked(approved):
    engine, oid = approved
    pending = overrides.request(engine, "mia", "B2", "Silver", "later", date(2026, 1, 1))
    rejected = overrides.request(engine, "mia", "B2", "Platinum", "too much", date(2026, 1, 1))
    overrides.decide(engine, "bob", rejected, approve=False, note="no")
    overrides.revoke(engine, "cy", oid, "done")
    entries = audit_count(engine)
    with pytest.raises(ServiceError, match=f"override {pending} is pending; only an approved override can be revoked"):
        overrides.revoke(engine, "cy", pending, "x")
    with pytest.raises(ServiceError, match=f"override {rejected} is rejected; only an approved"):
        overrides.revoke(engine, "cy", rejected, "x")
    with pytest.raises(ServiceError, match=f"override {oid} is revoked by cy at .*; only an approved"):
        overrides.revoke(engine, "eve", oid, "again")
    with pytest.raises(ServiceError, match="no override 999"):
        overrides.revoke(engine, "cy", 999, "x")
    assert audit_count(engine) == entries
    assert [o.status for o in overrides.list_overrides(engine)] == ["revoked", "pending", "rejected"]


def test_revocation_and_its_relevelling_are_one_transaction(approved, monkeypatch):
    """When re-levelling fails, the revocation is not stored either: the override still applies."""
    engine, oid = approved
    before = stored(engine)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(overrides, "relevel", broken)
    with pytest.raises(RuntimeError):
        overrides.revoke(engine, "cy", oid, "why")
    assert overrides.get(engine, oid).status == "approved"
    assert stored(engine) == before
    assert not [e for e in audit.entries(engine, "ann") if e.action == "override.revoke"]


# ============================================================================ delete metrics


def test_delete_a_typo_period_removes_it_from_periods_and_results(any_engine):
    seed(any_engine)
    with any_engine.begin() as conn:  # B2's revenue typed into 2105-Q1 instead of 2026-Q3
        b2 = conn.execute(text("SELECT key FROM partner WHERE partner_id = 'B2'")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO metric_value (period, metric, partner_key, value) VALUES ('2105-Q1', 'revenue', :k, 300)"
            ),
            {"k": b2},
        )
    run_levelling(any_engine, "ann")
    assert periods_of_results(any_engine) == ["2026-Q1", "2026-Q2", "2105-Q1"]
    report = deletes.delete_metrics(any_engine, "ann", "2105-q1")
    assert report.removed == {"metric values": 1}
    assert report.partners == ["B2"]
    assert report.text().startswith("Deleted metric values of 2105-Q1: 1 metric values (partner B2); re-levelled all 3")
    assert periods_of_results(any_engine) == ["2026-Q1", "2026-Q2"]
    assert_same_as_full(any_engine)
    line = next(e for e in audit.entries(any_engine, "ann") if e.action == "delete.metrics")
    assert (line.action, line.detail["period"], line.detail["rows"]) == ("delete.metrics", "2105-Q1", 1)
    assert line.detail["partner_ids"] == ["B2"]
    assert line.summary == "deleted 1 metric values of 2105-Q1 (revenue 1) from 1 partners"


def test_delete_one_partners_metrics_relevels_it_and_its_ancestors_only(any_engine):
    """C3's Q2 revenue (100) goes: A1's Q2 group revenue is 100; B2's and the others' results are untouched."""
    others = [(f"Z{i}", f"Other {i}", "NA", "VAR", None, None) for i in range(4)]  # most partners not affected
    seed(any_engine, partners=[*BASE_PARTNERS, *others], certs=FOUR_UC)
    run_levelling(any_engine, "ann")
    before = {(r[0], r[1]): r for r in stored(any_engine)}
    report = deletes.delete_metrics(any_engine, "ann", "2026-Q2", metric="revenue", partner_id="C3")
    assert report.relevelled == "re-levelled 2 partners"
    after = {(r[0], r[1]): r for r in stored(any_engine)}
    keys = keys_of(any_engine)
    assert {k for k in after if after[k] != before[k]} == {("2026-Q2", keys["A1"]), ("2026-Q2", keys["C3"])}
    # A1 in Q2: revenue 100 -> 6 points, 4 UC people -> 40: 46
    assert results(any_engine, "2026-Q2")["A1"].score == 46.0
    assert results(any_engine, "2026-Q2")["C3"].score == 0.0
    assert_same_as_full(any_engine)
    line = audit.entries(any_engine, "ann", partner_id="C3")[0]
    assert line.summary == "deleted 1 metric values of 2026-Q2 (revenue 1) of C3"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"period": "2026-Q3"},
            "nothing to delete: no metric values of 2026-Q3; nothing was changed "
            r"\(periods with metrics: 2026-Q1, 2026-Q2\)",
        ),
        (
            {"period": "2026-Q1", "metric": "escalations"},
            "nothing to delete: no metric values of 2026-Q1, metric escalations",
        ),
        ({"period": "2026-Q1", "partner_id": "ZZ"}, "no partner 'ZZ'"),
        ({"period": "2026-Q5"}, "'2026-Q5' is not a period"),
    ],
)
def test_a_metrics_delete_that_matches_nothing_writes_nothing(any_engine, kwargs, message):
    seed(any_engine)
    run_levelling(any_engine, "ann")
    before, entries = stored(any_engine), audit_count(any_engine)
    with pytest.raises(ServiceError, match=message):
        deletes.delete_metrics(any_engine, "ann", **kwargs)
    assert stored(any_engine) == before
    assert audit_count(any_engine) == entries


def test_deleting_needs_the_admin_role(any_engine):
    seed(any_engine)
    with pytest.raises(ServiceError, match="bob is an approver; deleting data needs the admin role"):
        deletes.delete_metrics(any_engine, "bob", "2026-Q1")
    with pytest.raises(ServiceError, match="mia is a manager; deleting data needs the admin role"):
        deletes.delete_partner(any_engine, "mia", "B2")


# ============================================================================ delete certifications


def test_delete_one_persons_certifications_matches_people_as_levelling_does(any_engine):
    """' P1 ' is p1 (trimmed, case-insensitive): A1 keeps 3 UC people. Q2: revenue 200 -> 12 points,
    3 of 4 people -> 30 points: 42 (was 52); still below Gold's revenue gate: grace."""
    seed(any_engine, certs=FOUR_UC)
    run_levelling(any_engine, "ann")
    assert results(any_engine, "2026-Q2")["A1"].score == 52.0
    report = deletes.delete_certifications(any_engine, "ann", "A1", person=" P1 ")
    assert report.removed == {"certifications": 1}
    a1 = results(any_engine, "2026-Q2")["A1"]
    assert (a1.score, a1.earned_tier, a1.event) == (42.0, "Gold", "grace")
    assert_same_as_full(any_engine)
    line = audit.entries(any_engine, "ann", partner_id="A1")[0]
    assert line.summary == "deleted 1 certifications of A1, person P1"
    assert line.detail["removed"] == [{"person": "p1", "certification": "C1", "track": "uc", "earned_on": "2020-01-01"}]


def test_delete_every_certification_of_a_partner(any_engine):
    """A1 without its 4 UC people: Q1 group revenue 600 -> 36 points < 50: Silver, grace; Q2 200 ->
    12 points < 20: Authorized, the second period below: demoted to Authorized."""
    seed(any_engine, certs=FOUR_UC)
    run_levelling(any_engine, "ann")
    report = deletes.delete_certifications(any_engine, "ann", "A1")
    assert report.removed == {"certifications": 4}
    q1, q2 = results(any_engine, "2026-Q1")["A1"], results(any_engine, "2026-Q2")["A1"]
    assert (q1.earned_tier, q1.event) == ("Gold", "grace")
    assert (q2.earned_tier, q2.event) == ("Authorized", "demoted")
    assert_same_as_full(any_engine)


def test_a_certifications_delete_that_matches_nothing_writes_nothing(any_engine):
    seed(any_engine, certs=FOUR_UC)
    entries = audit_count(any_engine)
    with pytest.raises(ServiceError, match="nothing to delete: no certifications of A1, person nobody"):
        deletes.delete_certifications(any_engine, "ann", "A1", person="nobody")
    with pytest.raises(ServiceError, match="nothing to delete: no certifications of B2; nothing was changed"):
        deletes.delete_certifications(any_engine, "ann", "B2")
    assert audit_count(any_engine) == entries


# ============================================================================ delete partner


def test_delete_a_partner_removes_its_data_and_relevels_its_parent(any_engine):
    """C3 goes with its 2 metric values, 1 override and 2 results. A1's group revenue: Q1 400, Q2 100.
    Q1: 24 + 40 = 64 points but 400 < 500: Silver, grace (Gold kept); Q2: 6 + 40 = 46: Silver, second
    period below: demoted to Silver."""
    seed(any_engine, certs=FOUR_UC)
    oid = overrides.request(any_engine, "mia", "C3", "Silver", "local hero", date(2026, 1, 1))
    run_levelling(any_engine, "ann")
    b2_before = [r for r in stored(any_engine) if r[1] == keys_of(any_engine)["B2"]]
    report = deletes.delete_partner(any_engine, "ann", "C3")
    assert report.removed == {
        "metric values": 2,
        "certifications": 0,
        "overrides": 1,
        "call notes": 0,
        "results": 2,
        "partner": 1,
    }
    assert report.text() == (
        "Deleted partner C3: 2 metric values, 1 overrides, 2 results, 1 partner; re-levelled 1 partner."
    )
    assert "C3" not in keys_of(any_engine)
    q1, q2 = results(any_engine, "2026-Q1")["A1"], results(any_engine, "2026-Q2")["A1"]
    assert (q1.score, q1.earned_tier, q1.event) == (64.0, "Gold", "grace")
    assert (q2.score, q2.earned_tier, q2.event) == (46.0, "Silver", "demoted")
    assert [r for r in stored(any_engine) if r[1] == keys_of(any_engine)["B2"]] == b2_before
    assert_same_as_full(any_engine)
    line = audit.entries(any_engine, "ann", partner_id="C3")[0]
    assert line.summary == "deleted partner C3 with 2 metric values, 1 overrides, 2 results"
    assert line.detail["overrides"] == [{"id": oid, "tier": "Silver", "status": "pending"}]
    assert line.detail["parent_id"] == "A1"
    # the deleted partner's history stays readable, its override's request included
    assert [e.action for e in audit.entries(any_engine, "ann", partner_id="C3")] == [
        "delete.partner",
        "override.request",
    ]


def test_a_partner_with_subsidiaries_is_not_deleted(any_engine):
    seed(any_engine)
    run_levelling(any_engine, "ann")
    before, entries = stored(any_engine), audit_count(any_engine)
    with pytest.raises(ServiceError, match=r"A1 has 1 subsidiary \(C3\): give them another parent"):
        deletes.delete_partner(any_engine, "ann", "A1")
    with pytest.raises(ServiceError, match="no partner 'Q9'"):
        deletes.delete_partner(any_engine, "ann", "Q9")
    assert set(keys_of(any_engine)) == {"A1", "B2", "C3"}
    assert stored(any_engine) == before
    assert audit_count(any_engine) == entries


def test_delete_the_only_partner_of_a_period(any_engine):
    """B2 alone reported 2026-Q3: deleting B2 takes the period away for everyone."""
    seed(any_engine)
    with any_engine.begin() as conn:
        b2 = conn.execute(text("SELECT key FROM partner WHERE partner_id = 'B2'")).scalar_one()
        conn.execute(
            text("INSERT INTO metric_value (period, metric, partner_key, value) VALUES ('2026-Q3', 'revenue', :k, 9)"),
            {"k": b2},
        )
    run_levelling(any_engine, "ann")
    report = deletes.delete_partner(any_engine, "ann", "B2")
    assert report.relevelled == "re-levelled all 2 partners"
    assert periods_of_results(any_engine) == ["2026-Q1", "2026-Q2"]
    assert_same_as_full(any_engine)


# ============================================================================ the command line


def run_cli(engine, capsys, *args, user="ann") -> tuple[int, str, str]:
    url = engine.url.render_as_string(hide_password=False)
    code = cli.main([*args, "--db", url, "--user", user])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_reject_needs_a_note_and_writes_nothing_without_one(any_engine, capsys):
    seed(any_engine)
    oid = overrides.request(any_engine, "mia", "B2", "Gold", "strategic", date(2026, 1, 1))
    entries = audit_count(any_engine)
    for extra in ([], ["--note", "   "]):
        code, out, err = run_cli(any_engine, capsys, "override", "reject", str(oid), *extra, user="bob")
        assert (code, out) == (1, "")
        assert err == f"tiertui: error: rejecting override {oid} needs a note saying why: --note TEXT\n"
    assert overrides.get(any_engine, oid).status == "pending"
    assert audit_count(any_engine) == entries
    code, out, _ = run_cli(any_engine, capsys, "override", "reject", str(oid), "--note", "not now", user="bob")
    assert (code, out) == (0, f"Override {oid} for B2 (Gold) rejected by bob.\n")


def test_cli_revoke_and_list_revoked(approved, capsys):
    engine, oid = approved
    with pytest.raises(SystemExit) as exit_:
        run_cli(engine, capsys, "override", "revoke", str(oid), user="cy")
    assert exit_.value.code == 2 and "the following arguments are required: --note" in capsys.readouterr().err
    code, out, _ = run_cli(engine, capsys, "override", "revoke", str(oid), "--note", "ended\x1b[2J", user="cy")
    assert (code, out) == (0, f"Override {oid} for B2 (Gold) revoked by cy; it no longer applies.\n")
    code, out, _ = run_cli(engine, capsys, "override", "list", "--status", "revoked")
    assert code == 0 and out.startswith(f"{oid:>5}  revoked ")
    assert out.rstrip().endswith("(revoked by cy on " + f"{date.today():%Y-%m-%d}" + ": ended\\x1b[2J)")


def test_cli_delete_prints_what_was_removed(any_engine, capsys):
    seed(any_engine)
    run_levelling(any_engine, "ann")
    code, out, _ = run_cli(any_engine, capsys, "delete", "metrics", "--period", "2026-Q2", "--partner", "B2")
    assert (code, out) == (
        0,
        "Deleted metric values of 2026-Q2, partner B2: 1 metric values (partner B2); re-levelled 1 partner.\n",
    )
    code, out, err = run_cli(any_engine, capsys, "delete", "partner", "A1")
    assert code == 1 and "A1 has 1 subsidiary (C3)" in err
    code, out, err = run_cli(any_engine, capsys, "delete", "certifications", "--partner", "B2")
    assert (code, out) == (1, "")
    assert err == "tiertui: error: nothing to delete: no certifications of B2; nothing was changed\n"
    code, out, err = run_cli(any_engine, capsys, "delete", "partner", "B2", user="mia")
    assert code == 1 and "deleting data needs the admin role" in err
    assert "B2" in keys_of(any_engine)


# ============================================================================ random deletes


IDS = [f"P{i:02d}" for i in range(14)]
PERIODS = ["2026-Q1", "2026-Q2", "2026-Q3"]


def _forest():
    # P00..P03 roots; P04..P09 under roots; P10..P13 under the second level
    rows = []
    for i, pid in enumerate(IDS):
        parent = None if i < 4 else IDS[i % 4] if i < 10 else IDS[4 + i % 6]
        rows.append(
            (pid, f"Partner {i}", ["EMEA", "LATAM", "NA"][i % 3], "VAR", parent, [None, "Silver", "Gold"][i % 3])
        )
    return rows


@pytest.fixture
def forest(any_engine):
    metrics = [
        (pid, period, metric, float((i * 37 + k * 11 + len(metric)) % 700))
        for i, pid in enumerate(IDS)
        for k, period in enumerate(PERIODS)
        for metric in ("revenue", "escalations")
        if not (pid == "P13" and period == "2026-Q3")
    ]
    metrics.append(("P13", "2027-Q1", "revenue", 50.0))  # a period only P13 reported
    certs = [
        (pid, ["ann", "Ann ", "bo", "cy"][i % 4], "uc", date(2025, 1 + i % 12, 1), None) for i, pid in enumerate(IDS)
    ]
    seed(any_engine, partners=_forest(), metrics=metrics, certs=certs)
    run_levelling(any_engine, "ann")
    return any_engine


delete_edit = st.one_of(
    st.tuples(
        st.just("metrics"),
        st.sampled_from([*PERIODS, "2027-Q1"]),
        st.sampled_from([None, "revenue"]),
        st.sampled_from([None, *IDS]),
    ),
    st.tuples(st.just("certifications"), st.sampled_from(IDS), st.sampled_from([None, "ANN", "bo"])),
    st.tuples(st.just("partner"), st.sampled_from(IDS)),
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(delete_edit, min_size=1, max_size=3))
def test_any_delete_stores_what_a_full_relevel_stores(forest, edits):
    """Whatever is deleted (or refused), the stored results equal a fresh full `tiertui level`."""
    for edit in edits:
        try:
            if edit[0] == "metrics":
                deletes.delete_metrics(forest, "ann", edit[1], metric=edit[2], partner_id=edit[3])
            elif edit[0] == "certifications":
                deletes.delete_certifications(forest, "ann", edit[1], person=edit[2])
            else:
                deletes.delete_partner(forest, "ann", edit[1])
        except ServiceError:
            pass  # refused (nothing matched, a parent, a partner deleted before): nothing written
        assert_same_as_full(forest)
