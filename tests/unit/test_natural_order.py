"""The natural sort key (tiertui.scoring.natural): byte order of the keys is the order a person expects."""

from __future__ import annotations

import pytest
from hostile_corpus import ALL
from hypothesis import given
from hypothesis import strategies as st

from tiertui.scoring.natural import LIMIT, WIDTH, natural_sort_key


def natural(values: list[str]) -> list[str]:
    """``values`` in the order their keys have as bytes (SQLite's BINARY, PostgreSQL's "C")."""
    return sorted(values, key=lambda v: natural_sort_key(v).encode())


def test_numbers_by_value():
    assert natural(["P100", "P10", "P2"]) == ["P2", "P10", "P100"]
    assert natural(["HP-100000", "HP-10001", "HP-1000", "HP-10000"]) == ["HP-1000", "HP-10000", "HP-10001", "HP-100000"]
    assert natural(["P0", "P9", "P11", "P1"]) == ["P0", "P1", "P9", "P11"]


def test_leading_zeros_do_not_count():
    assert natural(["P10", "P2", "P01"]) == ["P01", "P2", "P10"]
    assert natural_sort_key("P007") == natural_sort_key("P7")
    assert natural_sort_key("P000") == natural_sort_key("P0")


def test_case_and_accents_are_folded():
    assert natural_sort_key("ÉCLAIR IT 2") == natural_sort_key("eclair it 2") == natural_sort_key("Eclair IT 02")
    assert natural_sort_key("São Paulo") == natural_sort_key("SAO PAULO")
    assert natural(["zeta", "Émile", "apex", "Ärzte"]) == ["apex", "Ärzte", "Émile", "zeta"]
    assert natural_sort_key("Straße") == natural_sort_key("STRASSE")


def test_mixed_text_and_numbers():
    assert natural(["Apex 10 Tech", "Apex 9 Tech", "Apex Tech"]) == ["Apex 9 Tech", "Apex 10 Tech", "Apex Tech"]
    assert natural(["a1b10", "a1b2", "a2b1", "a10"]) == ["a1b2", "a1b10", "a2b1", "a10"]
    assert natural(["v1.10", "v1.9", "v1.9.1"]) == ["v1.9", "v1.9.1", "v1.10"]
    assert natural(["P2a", "P2", "P10"]) == ["P2", "P2a", "P10"]  # a shorter text first
    assert natural(["Partners 2024", "2024 Partners", "10 Downing"]) == ["10 Downing", "2024 Partners", "Partners 2024"]


def test_digits_of_other_forms_and_scripts_are_numbers():
    assert natural_sort_key("Ｐ１０") == natural_sort_key("P10")  # fullwidth
    assert natural_sort_key("P\u0661\u0660") == natural_sort_key("P10")  # Arabic-Indic ١٠
    assert natural(["P\u0661\u0660", "P9"]) == ["P9", "P\u0661\u0660"]


def test_invisible_characters_and_spacing_do_not_count():
    assert natural_sort_key("P\u200b2") == natural_sort_key("P2")
    assert natural_sort_key("\ufeffAcme\u202e") == natural_sort_key("acme")
    assert natural_sort_key("  Apex \t  Tech\r\n") == natural_sort_key("apex tech")
    assert natural_sort_key("nul\x00byte") == "nulbyte"


def test_numbers_are_padded_to_a_fixed_width():
    assert natural_sort_key("HP-10001") == "hp-" + "10001".rjust(WIDTH, "0")
    assert natural_sort_key("P2") == "p" + "0" * (WIDTH - 1) + "2"


def test_very_long_digit_runs_keep_their_order():
    nineteen, twenty, thirty = "9" * 19, "1" + "0" * 19, "1" + "0" * 29
    assert natural([f"P{thirty}", f"P{twenty}", f"P{nineteen}", "P2"]) == [
        "P2",
        f"P{nineteen}",
        f"P{twenty}",
        f"P{thirty}",
    ]
    assert natural(["P" + "9" * 25, "P" + "1" * 26, "P" + "2" * 25]) == ["P" + "2" * 25, "P" + "9" * 25, "P" + "1" * 26]
    five_thousand = "7" * 5_000  # longer than Python turns into an int by default: no error
    assert natural([f"P{five_thousand}", "P8"]) == ["P8", f"P{five_thousand}"]


@given(st.integers(0, 10**60), st.integers(0, 10**60), st.sampled_from(["", "0", "00"]))
def test_any_two_numbers_order_by_value(a, b, zeros):
    ka, kb = natural_sort_key(f"HP-{zeros}{a}x"), natural_sort_key(f"HP-{b}x")
    assert (ka < kb) == (a < b) and (ka == kb) == (a == b)


@given(st.lists(st.tuples(st.sampled_from(["P", "p", "HP-", "É", "q r"]), st.integers(0, 10**25)), max_size=12))
def test_byte_order_is_the_order_of_text_then_number(items):
    # (no folded prefix is the start of another: then the text decides, else the number)
    values = [f"{prefix}{n}" for prefix, n in items]
    expected = sorted(items, key=lambda pn: (natural_sort_key(pn[0]), pn[1]))
    assert [natural_sort_key(v) for v in natural(values)] == [natural_sort_key(f"{p}{n}") for p, n in expected]


@pytest.mark.parametrize(("kind", "value"), ALL, ids=[f"{k}-{i}" for i, (k, _v) in enumerate(ALL)])
def test_hostile_text_gives_a_short_storable_key(kind, value):
    key = natural_sort_key(value)
    assert len(key) <= LIMIT
    assert key.isprintable()  # no control, escape, NUL, bidi or zero-width character
    assert key == key.strip()
