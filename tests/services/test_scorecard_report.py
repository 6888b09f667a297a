"""Partner-facing scorecards (issue 15): what a partner's page says, what it never says, escaping."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hostile_corpus import ESCAPES, HTML, MARKUP
from publish_builder import mitel

from tiertui.safe_text import visible
from tiertui.services import overrides, publishing, report
from tiertui.services.errors import ServiceError


class _Text(HTMLParser):
    """The text a browser shows, and every tag it would build."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Text:
    p = _Text()
    p.feed(html)
    return p


def _words(html: str) -> str:
    return re.sub(r"\s+", " ", " ".join(_parse(html).text))


@pytest.fixture
def levelled(engine, tmp_path):
    mitel(engine, tmp_path)
    return engine


def test_page_says_tier_gap_benefits_and_provisional(levelled, tmp_path):
    result = report.write_report(levelled, "2015-Q1", tmp_path / "out", today=date(2015, 4, 10))
    assert result.pages == 5 and result.provisional
    html = (tmp_path / "out" / "M5.html").read_text(encoding="utf-8")
    words = _words(html)
    _program, pages = report.build_pages(levelled, "2015-Q1", "M5")
    page = pages[0]
    assert page.tier == "Silver" and page.next_tier == "Gold"
    assert re.search(r'<div class="tier" id="tier">Silver</div>', html)
    assert "To reach Gold" in words
    assert page.gap and all(visible(line) in words for line in page.gap)  # scoring's own sentences
    assert "58.80" in words  # the score, two decimals, as levelling stored it
    # benefits of its tier and of the next, from [benefits.Silver] / [benefits.Gold]
    assert "5 % discount" in words and "10 % discount" in words
    assert "1 % of revenue as marketing development funds" in words
    assert "Provisional" in words
    # self-contained: no script, no external fetch, the chart inline
    assert "<script" not in html.lower() and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<svg" in html and "2014-Q3" in words
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert 'href="M5.html"' in index and "dana@channel.example" in index  # the team's index names managers


def test_published_period_is_not_provisional(levelled, tmp_path):
    publishing.publish(levelled, "alice", "2015-Q1")
    report.write_report(levelled, "2015-Q1", tmp_path / "out", "M3")
    words = _words((tmp_path / "out" / "M3.html").read_text(encoding="utf-8"))
    assert "Provisional" not in words and "Gold" in words
    assert not (tmp_path / "out" / "index.html").exists()  # one partner: no index


def test_internal_data_never_on_a_partner_page(levelled, tmp_path):
    oid = overrides.request(levelled, "mia", "M5", "Gold", "SECRET-REASON strategic push", date(2015, 1, 1))
    overrides.decide(levelled, "alice", int(oid), True, "SECRET-NOTE ok")
    from tiertui.services.levelling import run_levelling

    run_levelling(levelled, "ann")
    report.write_report(levelled, "2015-Q1", tmp_path / "out")
    html = (tmp_path / "out" / "M5.html").read_text(encoding="utf-8")
    assert '<div class="tier" id="tier">Gold</div>' in html  # the effective tier, by override
    for secret in ("SECRET-REASON", "SECRET-NOTE", "dana@channel.example", "Dana", "mia", "alice"):
        assert secret not in html
    for other in ("Northwind", "Cloudline", "Bayside", "M1", "M3"):  # other partners
        assert other not in html


@pytest.mark.parametrize("name", HTML + MARKUP + ESCAPES[:3], ids=lambda v: repr(v)[:24])
def test_hostile_names_render_as_text(engine, tmp_path, name):
    mitel(engine, tmp_path, rename={"M5": name, "M2": name})
    report.write_report(engine, "2015-Q1", tmp_path / "out")
    for file in ("M5.html", "index.html"):
        html = (tmp_path / "out" / file).read_text(encoding="utf-8")
        parsed = _parse(html)
        assert "script" not in parsed.tags and "img" not in parsed.tags and "b" not in parsed.tags
        assert parsed.tags.count("style") == 1  # only the page's own
        assert visible(name) in "".join(parsed.text)  # shown as the text it is
        assert "\x1b" not in html
        assert "49" not in _words(html) or "7*7" not in name  # templates are never run on data


def test_template_from_the_user_folder_replaces_the_shipped_one(levelled, tmp_path):
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "scorecard.html.j2").write_text("<p>OURS {{ page.tier }} {{ page.name }}</p>", encoding="utf-8")
    report.write_report(levelled, "2015-Q1", tmp_path / "out", "M5", env=report.environment(mine))
    assert (tmp_path / "out" / "M5.html").read_text(encoding="utf-8") == "<p>OURS Silver Prairie Voice</p>"


def test_hostile_partner_ids_get_safe_file_names(tmp_path):
    taken: set[str] = set()
    names = [report.file_name_for(pid, taken) for pid in ("../../etc/passwd", "index", "A/B", "A_B", "a_b", "M1")]
    assert len(set(n.lower() for n in names)) == len(names)
    assert all("/" not in n and not n.startswith(".") for n in names)
    assert names[-1] == "M1.html" and names[1] != "index.html"


def test_unknown_period_or_partner_is_an_error(levelled, tmp_path):
    with pytest.raises(ServiceError, match="no results for 2019-Q1"):
        report.write_report(levelled, "2019-Q1", tmp_path / "out")
    with pytest.raises(ServiceError, match="'NOPE'"):
        report.write_report(levelled, "2015-Q1", tmp_path / "out", "NOPE")
    assert isinstance(tmp_path, Path)


def test_pages_written_by_several_processes_equal_those_written_by_one(levelled, tmp_path, monkeypatch):
    report.write_report(levelled, "2015-Q1", tmp_path / "one", today=date(2015, 4, 10))
    monkeypatch.setattr(report, "PARALLEL_FROM", 2)
    monkeypatch.setattr(report, "CHUNK", 2)
    monkeypatch.setattr(report.os, "cpu_count", lambda: 2)
    result = report.write_report(levelled, "2015-Q1", tmp_path / "many", today=date(2015, 4, 10))
    assert result.pages == 5
    one = {p.name: p.read_bytes() for p in (tmp_path / "one").iterdir()}
    many = {p.name: p.read_bytes() for p in (tmp_path / "many").iterdir()}
    assert one == many and len(one) == 6


def _lapsing_m5(engine, folder: Path, also: str = "") -> None:
    """The fixture with M5's two installers' certifications expiring in 2015-Q2 (no renewal): M5
    (Silver: at least 1 certified installer) is at risk in 2015-Q1 only by lapse risk (spec §3.8);
    ``also``: a third installer (a CSV field, quoted), expiring on 2015-06-20."""
    mitel(engine, folder, level=False)
    certs = folder / "lapsing.csv"
    certs.write_text(
        "partner_id,person,certification,track,earned_on,expires_on\n"
        "M5,Kai Wong,MiVoice Business Installation,installation,2014-08-01,2015-05-15\n"
        "M5,Lia Moss,MiVoice Business Installation,installation,2014-05-01,2015-06-01\n"
        + (f"M5,{also},MiVoice Business Installation,installation,2014-05-01,2015-06-20\n" if also else ""),
        encoding="utf-8",
    )
    from tiertui.services.imports import import_file
    from tiertui.services.levelling import run_levelling

    import_file(engine, "certifications", certs, "ann")
    run_levelling(engine, "ann")


def test_lapse_risk_alone_marks_the_page_at_risk_with_who_what_and_when(any_engine, tmp_path):
    engine = any_engine  # SQLite and PostgreSQL (dates come back as text and as dates)
    _lapsing_m5(engine, tmp_path)
    report.write_report(engine, "2015-Q1", tmp_path / "out", today=date(2015, 4, 10))
    words = _words((tmp_path / "out" / "M5.html").read_text(encoding="utf-8"))
    assert "At risk: see below." in words
    # the requirement it would break, the count now and after, by when
    assert "Silver requires Certified people (installation): at least 1. You have 2 at the end of 2015-Q1." in words
    assert "expire before 2015-Q2 ends and no renewal is on file: unless renewed, you would have 0 of 1" in words
    # which certification, of whom, expiring when
    assert "Kai Wong MiVoice Business Installation 2015-05-15" in words
    assert "Lia Moss MiVoice Business Installation 2015-06-01" in words
    # the team's index lists it among the partners at risk
    _program, pages = report.build_pages(engine, "2015-Q1", "M5", today=date(2015, 4, 10))
    assert pages[0].at_risk and len(pages[0].lapses) == 1 and pages[0].lapses[0].would_be == "0"


def test_a_renewal_on_file_takes_the_lapse_risk_away(engine, tmp_path):
    _lapsing_m5(engine, tmp_path)
    renewal = tmp_path / "renewal.csv"
    renewal.write_text(
        "partner_id,person,certification,track,earned_on,expires_on\n"
        "M5,kai wong ,MiVoice Business Installation,installation,2015-05-01,2017-05-01\n",
        encoding="utf-8",
    )
    from tiertui.services.imports import import_file

    import_file(engine, "certifications", renewal, "ann")
    report.write_report(engine, "2015-Q1", tmp_path / "out", "M5", today=date(2015, 4, 10))
    words = _words((tmp_path / "out" / "M5.html").read_text(encoding="utf-8"))
    assert "At risk" not in words and "Certifications to renew" not in words


@pytest.mark.parametrize("person", HTML[:3] + MARKUP[:2] + ESCAPES[:2], ids=lambda v: repr(v)[:24])
def test_hostile_person_names_in_a_lapse_risk_render_as_text(engine, tmp_path, person):
    _lapsing_m5(engine, tmp_path, also='"' + person.replace('"', '""') + '"')
    report.write_report(engine, "2015-Q1", tmp_path / "out", "M5", today=date(2015, 4, 10))
    html = (tmp_path / "out" / "M5.html").read_text(encoding="utf-8")
    parsed = _parse(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags and "b" not in parsed.tags
    assert "\x1b" not in html
    words = _words(html)
    assert "Certifications to renew" in words and "you would have 0 of 1" in words
    assert visible(person.strip()) in "".join(parsed.text)  # shown, as the text it is
