"""Moving the focus in answer to a key, so that the next key already read goes where this one sent it.

Textual's ``Widget.focus()`` moves the focus later, after the messages already queued. The app hands
each key to the widget focused when it takes the key, and finds the key's binding once the key has
come back up to it, from the focus at that moment. So when keys come faster than the app draws (a
held-down arrow, any two keys on a busy machine), the keys after ``m`` (to the movers) still found the
old focus and moved the values instead, and each Down of a list of focusable rows moved from the same
row. Moving the focus at once in the action of the key leaves no such gap.
"""

from __future__ import annotations

from textual.widget import Widget


def focus_now(widget: Widget) -> None:
    """Give ``widget`` the focus now (and scroll it into view), not after the queued messages."""
    widget.screen.set_focus(widget)
