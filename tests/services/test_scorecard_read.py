"""The scorecard a manager reads agrees with the stored result, and says where values came from."""

from __future__ import annotations

from datetime import date

import pytest

from tiertui.services.demo import build_demo
from tiertui.services.read import engine as reads
from tiertui.storage import open_engine
from tiertui.storage.queries import fetchall

TODAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    engine = open_engine(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}")
    build_demo(
        engine, partners=200, seed=2026, user="tester", timeline=False
    )  # one version: see test_fixture_timelines
    yield engine
    engine.dispose()


def test_the_scorecard_at_risk_is_the_stored_at_risk_for_every_partner_and_period(demo):
    with demo.connect() as conn:
        rows = fetchall(
            conn,
            "SELECT p.partner_id, r.period, r.at_risk FROM level_result r JOIN partner p ON p.key = r.partner_key",
        )
    periods = sorted({r[1] for r in rows})
    latest = periods[-1]
    stored = {(r[0], r[1]): bool(r[2]) for r in rows}
    disagree, lapse = [], 0
    for pid in sorted({r[0] for r in rows}):
        for period in (periods[-2], latest):
            card = reads.partner_scorecard(demo, pid, period, TODAY).card
            assert card is not None
            if card.at_risk != stored[(pid, period)]:
                disagree.append((pid, period, card.at_risk, card.at_risk_reasons))
            assert bool(card.risks) == card.at_risk, (pid, period)  # at risk always says why
            lapse += any(r.kind == "lapse" for r in card.risks)
    assert disagree == []
    assert sum(stored[(p, latest)] for p, _ in stored if _ == latest) > 0
    assert lapse > 0, "lapse risk shows on some demo scorecard"


def test_values_not_reported_or_carried_are_marked(demo):
    notes = set()
    with demo.connect() as conn:
        pids = [r[0] for r in fetchall(conn, "SELECT partner_id FROM partner ORDER BY partner_id")]
    for pid in pids:
        card = reads.partner_scorecard(demo, pid, None, TODAY).card
        notes |= set(card.notes.values())
    assert "not reported" in notes
    assert any(n.startswith("carried from ") for n in notes)


def test_history_explains_each_change_of_tier(demo):
    with demo.connect() as conn:
        moved = fetchall(
            conn,
            "SELECT p.partner_id FROM level_result r JOIN partner p ON p.key = r.partner_key "
            "WHERE r.event = 'demoted' ORDER BY p.partner_id LIMIT 5",
        )
    assert moved
    for (pid,) in moved:
        lines = reads.partner_history(demo, pid)
        down = [line for line in lines if line.change.startswith("▼")]
        assert down, pid
        assert all(line.reasons for line in down), [(line.change, line.reasons) for line in down]


def test_json_export_has_the_gap_and_risk_sentences_of_the_scorecard(demo):
    import io
    import json

    from tiertui.services import exports

    with demo.connect() as conn:
        latest = max(r[0] for r in fetchall(conn, "SELECT DISTINCT period FROM level_result"))
    rows = exports.scorecard_rows(demo, latest, allow_stale=True)
    out = io.StringIO()
    exports.write_json(rows, out, reads.period_sentences(demo, latest))
    data = {d["partner_id"]: d for d in json.loads(out.getvalue())}
    for pid in list(data)[::7]:
        card = reads.partner_scorecard(demo, pid, latest, TODAY).card
        d = data[pid]
        assert d["gap"] == (card.gap.texts() if card.gap else [])
        assert d["next_tier"] == (card.gap.tier if card.gap else None)
        assert d["at_risk_reasons"] == [r.text for r in card.risks]
        assert bool(d["at_risk_reasons"]) == d["at_risk"] or not d["at_risk"]
    csv_out = io.StringIO()
    exports.write_csv(rows, csv_out)
    assert csv_out.getvalue().splitlines()[0] == ",".join(exports.columns_of(rows))


@pytest.mark.parametrize(
    "query",
    [
        reads.CertificationQuery(),
        reads.CertificationQuery(status="expiring90"),
        reads.CertificationQuery(status="active", track="uc"),
        reads.CertificationQuery(partner="p0001"),
    ],
)
def test_the_first_page_of_certifications_is_the_start_of_the_whole_list(demo, query):
    """The certifications screen shows the first page at once, then the whole list: same rows first."""
    whole = reads.certification_ids(demo, query, TODAY)
    assert len(whole) > 50
    first = reads.certification_ids(demo, query, TODAY, limit=50)
    assert first.tolist() == whole[:50].tolist()
    rows = reads.certification_rows(demo, whole, TODAY)
    if query.status.startswith("expir"):
        keys = [(r.expires_on, r.partner_id) for r in rows]
    else:
        keys = [(r.partner_id, r.track, r.person, r.certification) for r in rows]
    assert keys == sorted(keys)
