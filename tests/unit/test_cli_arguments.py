"""The command line that opens the app is read without building the whole parser: it must read every
such line exactly as the full parser does, and leave every other line to it."""

from __future__ import annotations

import pytest

from tiertui.cli import _opening_the_app, build_parser

OPENING = [
    [],
    ["--db", "sqlite:///x.db"],
    ["--db=sqlite:///x.db"],
    ["--user", "alice"],
    ["--user=Zoë [bold]", "--db", "postgresql+psycopg://u@h/db"],
    ["--db", "a.db", "--db", "b.db"],  # the last one counts, as in argparse
    ["--db="],
    ["--user", "=alice"],
]
OTHERS = [
    ["--help"],
    ["-h"],
    ["--version"],
    ["status"],
    ["--db", "x.db", "status"],
    ["--db"],  # no value: the full parser says so
    ["--db", "--user", "alice"],
    ["--us", "alice"],  # an abbreviation: argparse's rules, not ours
    ["--colour"],
    ["demo"],
]


@pytest.mark.parametrize("argv", OPENING, ids=repr)
def test_the_app_opening_line_reads_as_the_full_parser_reads_it(argv):
    fast = _opening_the_app(argv)
    assert fast is not None
    assert vars(fast) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", OTHERS, ids=repr)
def test_every_other_line_is_left_to_the_full_parser(argv):
    assert _opening_the_app(argv) is None
