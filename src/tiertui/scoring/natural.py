"""Natural order as text: a sort key whose plain byte order is the order a person expects.

``P2`` comes before ``P10``, ``HP-1000`` before ``HP-10000``, ``HP-10001`` and ``HP-100000``; case
and accents do not count. The partner table stores :func:`natural_sort_key` of each partner's id
and name (``partner.id_sort_key``, ``partner.name_sort_key``, indexed), so the database sorts the
partner list naturally with a plain ``ORDER BY`` that an index serves, on SQLite (bytes) and on
PostgreSQL (the columns use the ``C`` collation: bytes too).

The key, from ``text``:

1. casefolded, accents removed (NFKD, combining marks dropped), the same folding as
   find-a-partner's; compatibility forms fold too (fullwidth ``Ｐ１`` is ``p1``);
2. invisible characters (controls, format characters such as zero-width spaces and direction
   marks) dropped, whitespace runs made one space, ends stripped;
3. each run of decimal digits (any script's) written as its number in ASCII, leading zeros removed,
   left-padded with zeros to :data:`WIDTH` (20) characters: numbers of up to 19 digits (every
   signed 64-bit number) compare by value because they have the same width.
   A longer number (20 digits or more) is written as ``1``, its digit count in 6 digits, then its
   digits: its first character ``1`` puts it after every padded number (which starts with ``0``),
   and among long numbers the count, then the digits, order them by value. Counts above 999,999
   are written as 999999 (such numbers still sort after the shorter ones, among themselves by
   their leading digits);
4. cut to :data:`LIMIT` (250) characters, so that an index entry stays small (PostgreSQL refuses
   index entries over about 2,700 bytes): texts whose keys agree in their first 250 characters
   tie.

Numbers that differ only in leading zeros (``P02``, ``P2``) get the same key, as do texts that
differ only in case, accents or invisible characters: the list breaks ties by the natural id, then
by the id as written. The key is meant for ordering only, never shown.
"""

from __future__ import annotations

import re
import unicodedata

WIDTH = 20  # characters of a padded number; numbers of up to WIDTH - 1 digits are padded
LIMIT = 250  # characters of a key at most
_LONG_COUNT = 6  # digits of the count that precedes a longer number

_DIGITS = re.compile(r"\d+")
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn"))  # controls, format characters, no character


def fold(text: str) -> str:
    """``text`` casefolded and without accents (what find-a-partner compares, and the key's text)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _visible(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text
    return "".join(c for c in text if c.isspace() or unicodedata.category(c) not in _INVISIBLE)


def _number(run: str) -> str:
    if not run.isascii():
        run = "".join(str(unicodedata.decimal(c)) for c in run)
    digits = run.lstrip("0") or "0"
    if len(digits) < WIDTH:
        return digits.rjust(WIDTH, "0")
    count = min(len(digits), 10**_LONG_COUNT - 1)
    return f"1{count:0{_LONG_COUNT}d}{digits}"


def _number_of(match: re.Match[str]) -> str:
    return _number(match.group())


def natural_sort_key(text: str) -> str:
    """``text``'s natural sort key (see the module's description): compare keys as bytes."""
    cleaned = " ".join(_visible(fold(text)).split())  # whitespace runs (controls too) become one space
    if not _DIGITS.search(cleaned):
        return cleaned[:LIMIT]
    return _DIGITS.sub(_number_of, cleaned)[:LIMIT]
