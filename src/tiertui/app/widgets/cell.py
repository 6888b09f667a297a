"""A table cell of one line drawn straight to segments: literal text (never markup) in styled parts.

A ``DataTable`` draws every visible cell again after any change to its rows (its caches are keyed
by the table's update count), and a ``rich.text.Text`` cell goes through wrapping, joining and the
stacking of span styles each time. The override queue repaints all its visible cells after each
decision; drawn from these cells the same characters in the same styles cost about two thirds.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style


class Cell:
    """One line of literal text in parts, each plain (a ``str``) or styled (``(text, style)``);
    cut at the column's width as a ``Text`` that does not wrap is. ``str(cell)``: its text."""

    __slots__ = ("cell_len", "parts", "plain")

    def __init__(self, *parts: str | tuple[str, str]) -> None:
        self.parts: tuple[tuple[str, Style | None], ...] = tuple(
            (part, None) if isinstance(part, str) else (part[0], Style.parse(part[1]) if part[1] else None)
            for part in parts
        )
        self.plain = "".join(text for text, _ in self.parts)
        self.cell_len = cell_len(self.plain)

    def __str__(self) -> str:
        return self.plain

    def __repr__(self) -> str:
        return f"Cell({self.plain!r})"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        room = options.max_width
        for text, style in self.parts:
            size = cell_len(text)
            if size > room:
                if room > 0:
                    yield Segment(set_cell_size(text, room), style)
                return
            yield Segment(text, style)
            room -= size

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.cell_len, self.cell_len)
