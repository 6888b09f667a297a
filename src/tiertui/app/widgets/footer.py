"""Textual's Footer, recomposed only when the keys it shows change.

Textual's Footer rebuilds all its keys (a widget each, styled anew) after every change of the
screen's bindings: every focus change, several times while a screen opens. This one does the same
at most once per refresh, not at all when the keys it would show are the ones it shows, and not
while its screen is hidden (the screen calls ``refresh_bindings`` when it is shown again). Its
keys also start as they stay (not compact): Textual's start compact, and binding them to the
footer's setting restyles each of them twice as it is mounted.

``KeysFooter(hold=True)`` shows its keys only once :meth:`release` is called (or after half a
second): a screen lets its first data be drawn before the keys, a dozen widgets to style and lay out.

It shows only the keys that fit on its one line (Textual's cuts the last ones off mid-word, and the
command palette's key over them): the screen's keys and the app's in their order, dropping from the
end (the app's navigation first) and never the help key (``?``), which lists every key and says
"All keys" when some are not shown. It lays its keys out again when the terminal is resized.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import groupby

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup


class _Key(FooterKey):
    """A FooterKey that starts as the (not compact) footer it is in: no restyling when bound to it."""

    compact = reactive(False)


HELP_ACTIONS = ("help", "app.help")  # the key that lists every key: always shown
MORE = "All keys"  # the help key's words when some keys are not shown


def _item_width(app, multi_bindings: list[list[tuple]]) -> int:
    """Cells one footer item takes (non-compact footer): a key ``" k "`` and ``"Description "``, or a
    group of keys (``" k "`` each, margin 1 either side) and its label (margin 1 after)."""
    if len(multi_bindings) > 1:
        keys = sum(cell_len(app.get_key_display(mb[0][0])) + 2 for mb in multi_bindings)
        return keys + cell_len(multi_bindings[0][0][0].group.description) + 1
    binding = multi_bindings[0][0][0]
    key = cell_len(app.get_key_display(binding))
    return key + 2 + cell_len(binding.description) + 1 if binding.description else key


def fitting(app, items: list[list[list[tuple]]], width: int) -> tuple[list[list[list[tuple]]], bool]:
    """The footer items that fit in ``width`` cells, in their order: dropped from the end, the help
    key last of all; and whether any was dropped."""
    widths = [_item_width(app, item) for item in items]
    total = sum(widths)
    if total <= width:
        return items, False
    helps = [any(b.action in HELP_ACTIONS for mb in item for b, _e, _t in mb) for item in items]
    for i, is_help in enumerate(helps):  # it will say "All keys"
        if is_help and len(items[i]) == 1:
            description = items[i][0][0][0].description
            total += cell_len(MORE) - cell_len(description) if description else 0
    keep = [True] * len(items)
    for i in range(len(items) - 1, -1, -1):
        if total <= width:
            break
        if not helps[i]:
            keep[i] = False
            total -= widths[i]
    return [item for item, k in zip(items, keep, strict=True) if k], True


class KeysFooter(Footer):
    """A :class:`~textual.widgets.Footer` that skips rebuilds which would show the same keys."""

    def __init__(self, *args, hold: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pending = False
        self._shown: tuple | None = None
        self._held = hold

    def on_mount(self) -> None:  # Footer's on_mount (subscribing to the bindings) runs too
        if self._held:
            self.set_timer(0.5, self._release)

    def release(self) -> None:
        """Show the keys (a footer made with ``hold=True`` waits for this)."""
        self.call_later(self._release)  # from the footer's own queue: composing binds its keys to it

    def _release(self) -> None:
        if self._held:
            self._held = False
            if self.is_attached:
                self.bindings_changed(self.screen)

    def compose(self) -> ComposeResult:
        """As :meth:`Footer.compose` (Textual 8.2), with :class:`_Key` for FooterKey."""
        if not self._bindings_ready:
            return
        active_bindings = self.screen.active_bindings
        bindings = [
            (binding, enabled, tooltip) for (_, binding, enabled, tooltip) in active_bindings.values() if binding.show
        ]
        action_to_bindings: defaultdict[str, list[tuple]] = defaultdict(list)
        for binding, enabled, tooltip in bindings:
            action_to_bindings[binding.action].append((binding, enabled, tooltip))

        self.styles.grid_size_columns = len(action_to_bindings)

        items: list[list[list[tuple]]] = []
        for group, multi_bindings_iterable in groupby(
            action_to_bindings.values(), lambda multi_bindings_: multi_bindings_[0][0].group
        ):
            multi_bindings = list(multi_bindings_iterable)
            if group is not None and len(multi_bindings) > 1:
                items.append(multi_bindings)
            else:
                items += [[mb] for mb in multi_bindings]
        items, more = fitting(self.app, items, self._room(active_bindings))

        for multi_bindings in items:
            group = multi_bindings[0][0][0].group
            if group is not None and len(multi_bindings) > 1:
                with KeyGroup(classes="-compact" if group.compact else ""):
                    for multi_binding in multi_bindings:
                        binding, enabled, tooltip = multi_binding[0]
                        yield _Key(
                            binding.key,
                            self.app.get_key_display(binding),
                            "",
                            binding.action,
                            disabled=not enabled,
                            tooltip=tooltip or binding.description,
                            classes="-grouped",
                        ).data_bind(compact=Footer.compact)
                yield FooterLabel(group.description)
            else:
                for multi_binding in multi_bindings:
                    binding, enabled, tooltip = multi_binding[0]
                    yield _Key(
                        binding.key,
                        self.app.get_key_display(binding),
                        MORE if more and binding.action in HELP_ACTIONS else binding.description,
                        binding.action,
                        disabled=not enabled,
                        tooltip=tooltip,
                    ).data_bind(compact=Footer.compact)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            try:
                _node, binding, enabled, tooltip = active_bindings[self.app.COMMAND_PALETTE_BINDING]
            except KeyError:
                pass
            else:
                yield FooterKey(  # as Textual's: not bound to the footer's compact setting
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    classes="-command-palette",
                    disabled=not enabled,
                    tooltip=binding.tooltip or binding.description,
                )

    def _room(self, active_bindings) -> int:
        """Cells for the keys: the footer's width (the screen's, before it is laid out), less the
        command palette's key on the right."""
        width = self.size.width or self.app.size.width
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
            if palette is not None:
                binding = palette[1]
                width -= (
                    cell_len(self.app.get_key_display(binding)) + cell_len(binding.description) + 3
                )  # "▏^p palette "
        return width

    def on_resize(self, event: events.Resize) -> None:
        if self._shown is not None and self._shown[-1] != event.size.width:
            self.bindings_changed(self.screen)

    def bindings_changed(self, screen: Screen) -> None:
        if self._held:
            return  # release() asks again
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        self._pending = False
        if not self.is_attached or self.screen is not self.app.screen:
            return  # another screen is on top: its screen refreshes its bindings when it is shown again
        keys = self._keys()
        if keys != self._shown:
            self._shown = keys
            await self.recompose()

    def _keys(self) -> tuple:
        """What :meth:`Footer.compose` reads: the shown bindings, how they look, and the options."""
        app = self.app
        active = self.screen.active_bindings

        def look(binding, enabled, tooltip) -> tuple:
            return (
                binding.key,
                app.get_key_display(binding),
                binding.description,
                binding.action,
                binding.group,
                binding.tooltip,
                enabled,
                tooltip,
            )

        palette = active.get(app.COMMAND_PALETTE_BINDING)
        return (
            tuple(look(b, enabled, tooltip) for (_, b, enabled, tooltip) in active.values() if b.show),
            look(*palette[1:]) if palette else None,
            self.show_command_palette,
            self.compact,
            app.ENABLE_COMMAND_PALETTE,
            self.size.width or app.size.width,
        )
