"""Find-a-partner's matching rules (the palette and the partner list's search, every reader)."""

from __future__ import annotations

from tiertui.services.read import sql

PARTNERS = {
    1: ("HP-1000", "Apex Tech Boston Inc.", "NA", "Ana Ruiz"),
    2: ("HP-10000", "Boston Cloud", "NA", "Ben Okafor"),
    3: ("HP-100000", "São Paulo Systems", "LATAM", "Chloé Martin"),
    4: ("XHP-1", "Apex Partners", "EMEA", "Ana Ruiz"),
    5: ("P2", "ÉCLAIR IT", "EMEA", "Dev Patel"),
    6: ("P10", "Tech Apex", "APAC", "Dev Patel"),
}
TEXTS = {k: sql.find_text(*v) for k, v in PARTNERS.items()}


def ids(query: str) -> list[str]:
    return [PARTNERS[k][0] for k in sql.find(TEXTS, query)]


def test_every_word_in_any_order():
    assert ids("apex bos") == ["HP-1000"]
    assert ids("boston apex") == ["HP-1000"]
    assert ids("BOSTON   APEX inc") == ["HP-1000"]
    assert ids("apex zzz") == []


def test_case_and_accents_do_not_count():
    assert ids("sao paulo") == ["HP-100000"]
    assert ids("SÃO") == ["HP-100000"]
    assert ids("eclair") == ["P2"]
    assert ids("chloe") == ["HP-100000"]  # the account manager, accents folded


def test_region_and_manager_match():
    assert ids("latam") == ["HP-100000"]
    assert set(ids("ana ruiz")) == {"HP-1000", "XHP-1"}
    assert ids("emea dev") == ["P2"]


def test_ids_match_by_prefix_only():
    assert ids("hp-1000") == ["HP-1000", "HP-10000", "HP-100000"]  # exact first, then natural order
    assert "XHP-1" not in ids("hp-1")  # HP-1 inside XHP-1 is not a prefix
    assert ids("xhp") == ["XHP-1"]
    assert ids("000") == []  # digits inside an id do not match


def test_best_matches_first():
    # exact id, then ids by prefix, then names starting with the first word, then word starts
    assert ids("p2") == ["P2"]
    assert ids("apex")[:2] == ["XHP-1", "HP-1000"]  # names starting with "apex" (natural order of names)
    assert ids("apex")[-1] == "P10"  # "Tech Apex": apex starts a later word


def test_nothing_for_nothing_or_a_nul():
    assert ids("") == [] and ids("   ") == []
    assert ids("apex\x00") == []


def test_natural_order():
    values = ["HP-100000", "HP-10001", "HP-1000", "HP-10000", "P10", "P2", "p3"]
    assert sorted(values, key=sql.natural_key) == ["HP-1000", "HP-10000", "HP-10001", "HP-100000", "P2", "p3", "P10"]
