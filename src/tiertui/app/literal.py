"""Text from data, made to show literally (issue #12, spec §4 "Safe output").

A partner's name, a region, an override reason, a program's name, a person's name: the app never
reads them as Rich or Textual markup (``contract clause [/b] applies`` is shown as typed, not parsed,
and cannot crash a screen), and shows control characters as escapes (``\\x1b``), so data can never
clear the screen, move the cursor or reorder what is shown. Every widget gets data as a
:class:`~rich.text.Text` or :class:`~textual.content.Content`, built here.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.content import Content

from ..safe_text import visible


def literal(*parts: str | tuple[str, str]) -> Content:
    """Content from pieces that may hold data: each piece is literal text (never markup), or
    (literal text, style). Line breaks are kept (a message of several lines); every other control
    character is shown as an escape."""
    return Content.assemble(
        *(
            visible(p, keep_newlines=True) if isinstance(p, str) else (visible(p[0], keep_newlines=True), p[1])
            for p in parts
        )
    )


def data_text(value: object, style: str = "") -> Text:
    """A Rich Text of ``value``, literal, control characters visible."""
    return Text(visible("" if value is None else value), style=style)


class LiteralTable(Table):
    """A Rich table whose str cells and headers are data: shown literally (Rich reads a str cell as
    markup), control characters visible."""

    def add_column(self, header="", *args, **kwargs) -> None:  # type: ignore[no-untyped-def, override]
        super().add_column(data_text(header) if isinstance(header, str) else header, *args, **kwargs)

    def add_row(self, *renderables, **kwargs) -> None:  # type: ignore[no-untyped-def, override]
        super().add_row(*(data_text(r) if isinstance(r, str) else r for r in renderables), **kwargs)
