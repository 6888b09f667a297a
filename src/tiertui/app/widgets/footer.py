"""Textual's Footer, recomposed only when the keys it shows change.

Textual's Footer rebuilds all its keys (a widget each, styled anew) after every change of the
screen's bindings: every focus change, several times while a screen opens. This one does the same
at most once per refresh, not at all when the keys it would show are the ones it shows, and not
while its screen is hidden (the screen calls ``refresh_bindings`` when it is shown again). Its
keys also start as they stay (not compact): Textual's start compact, and binding them to the
footer's setting restyles each of them twice as it is mounted.

``KeysFooter(hold=True)`` shows its keys only once :meth:`release` is called (or after half a
second): a screen lets its first data be drawn before the keys, a dozen widgets to style and lay out.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import groupby

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup


class _Key(FooterKey):
    """A FooterKey that starts as the (not compact) footer it is in: no restyling when bound to it."""

    compact = reactive(False)


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

        for group, multi_bindings_iterable in groupby(
            action_to_bindings.values(), lambda multi_bindings_: multi_bindings_[0][0].group
        ):
            multi_bindings = list(multi_bindings_iterable)
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
                        binding.description,
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
        )
