"""Text from data is hostile: the two ways tiertui makes it safe to show (spec §4, "Safe output").

Pure standard library, importable from every layer (the CLI, the app, exports, storage messages):

- :func:`visible` for a terminal or a screen: every control, escape, bidirectional-override and
  other invisible formatting character is written out as a visible escape (``\\x1b``, ``\\r``,
  ``\\u202e``), so data can never move the cursor, clear the screen, recolour the terminal, set a
  window title, rewrite a line (``\\r``) or reorder what is shown. Printable text, including accents
  and square brackets, is unchanged.
- :func:`spreadsheet_text` for a CSV or XLSX cell: a text that a spreadsheet program would read as
  a formula (it begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading
  ``'`` so that it shows as the text it is.
"""

from __future__ import annotations

import unicodedata

# Characters that start a formula (or a DDE payload) in Excel, LibreOffice and Google Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# Unicode categories that are not shown as themselves: controls (Cc), formats (Cf: zero-width
# characters, bidirectional overrides, the BOM), line and paragraph separators, unassigned and
# private-use code points, and lone surrogates.
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp", "Cn", "Co", "Cs"}
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` with every invisible or controlling character shown as an escape.

    ``keep_newlines`` keeps ``\\n`` as a line break (for multi-line notes shown in a pane); ``\\r``
    is always escaped, since on a terminal it returns to the start of the line and overwrites it.
    A backslash stays a single backslash: the escapes are for reading, not for round trips.
    """
    s = str(text)
    if s.isprintable() and s.isascii():  # the common case, fast
        return s
    out = []
    for ch in s:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch in _NAMED or unicodedata.category(ch) in _INVISIBLE:
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)


def spreadsheet_text(value: object) -> object:
    """A cell value safe for a spreadsheet: a text formula gets a leading ``'``; numbers pass.

    Only ``str`` values are changed: a number written as a number is never a formula.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def is_formula_like(value: object) -> bool:
    """True when a spreadsheet would read ``value`` (a text cell) as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)
