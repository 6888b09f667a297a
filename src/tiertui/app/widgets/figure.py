"""A dashboard figure: a number with a label that opens the matching list (Enter or click)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

from ...safe_text import visible


class Figure(Widget, can_focus=True):
    BINDINGS = [Binding("enter,space", "open", "Open list", show=True)]

    DEFAULT_CSS = """
    Figure { width: 1fr; height: 4; border: round $panel; padding: 0 1; }
    Figure:focus { border: round $accent; background: $boost; }
    Figure:hover { background: $boost; }
    """

    class Opened(Message):
        def __init__(self, figure: Figure) -> None:
            super().__init__()
            self.figure = figure

        @property
        def control(self) -> Figure:
            return self.figure

    def __init__(
        self,
        value: int,
        label: str,
        target: Any,
        *,
        mark: str = "",
        mark_style: str = "",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.value = value
        self.label = label
        self.target = target
        self.mark = mark
        self.mark_style = mark_style

    def render(self) -> Text:
        text = Text()
        if self.mark:
            text.append(f"{self.mark} ", style=self.mark_style)
        text.append(f"{self.value:,}", style="bold")
        text.append(f"\n{visible(self.label)}", style="")
        return text

    def action_open(self) -> None:
        self.post_message(self.Opened(self))

    def on_click(self) -> None:
        self.focus()
        self.action_open()
