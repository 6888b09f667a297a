"""A stand-in for a closed compact :class:`~textual.widgets.Select` while a screen is first drawn.

A Select is six widgets (itself, its current value, label, two arrows and the overlay list); each
costs Textual a few milliseconds of styling and layout. The partner list has six of them, so it
draws :class:`SelectStub` (one widget that looks like the closed Select: its prompt, or the label
of its value, and the arrow) and mounts the real Selects right after its first rows are on screen.
"""

from __future__ import annotations

from rich.cells import set_cell_size
from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.widget import Widget


class SelectStub(Widget):
    """Looks like a closed compact Select showing ``label``: its prompt, or its value's label."""

    COMPONENT_CLASSES = {"select-stub--arrow"}

    # as Select > SelectCurrent (compact: no border, one cell of padding on the right), its label
    # (the prompt faded, a value in full colour) and its arrow (faded, one cell of padding before it)
    DEFAULT_CSS = """
    SelectStub {
        width: 1fr;
        height: 1;
        padding: 0 1 0 0;
        background: $surface;
        color: $foreground 50%;
    }
    SelectStub.-has-value { color: $foreground; }
    SelectStub > .select-stub--arrow { color: $foreground 50%; }
    """

    def __init__(self, label: str, *, has_value: bool = False, stands_for: str | None = None) -> None:
        super().__init__(classes="-has-value" if has_value else "")
        self.label = label
        self.stands_for = stands_for  # the id of the Select that replaces it

    def render_line(self, y: int) -> Strip:
        width = self._size.width - self.styles.gutter.width  # not self.size: that looks up the screen's map
        style = self.rich_style
        if y or not width:
            return Strip.blank(width, style)
        label_width = max(0, width - 2)  # the arrow takes two cells: a space and the arrow
        lines = Content(self.label).wrap(label_width) if label_width else []  # a label wraps, as a Static's
        label = set_cell_size(lines[0].plain if lines else "", label_width)
        arrow = style + self.get_component_rich_style("select-stub--arrow")
        return Strip([Segment(label, style), Segment(" ▼"[: width - label_width], arrow)], width)
