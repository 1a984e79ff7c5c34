"""The footer of keys, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Textual's footer rebuilds itself whenever focus moves.

    Opening or closing the filter field moves focus without changing any key the footer shows, and
    rebuilding its fifteen keys costs that key press tens of milliseconds while the workers run.
    """

    _shown: tuple[object, ...] | None = None

    def bindings_changed(self, screen: Screen) -> None:
        active = screen.active_bindings
        palette = active.get(screen.app.COMMAND_PALETTE_BINDING)
        shown = (
            tuple((b, enabled, tip) for _, b, enabled, tip in active.values() if b.show),
            palette[1:] if palette is not None else None,
            screen.app.app_focus,
        )
        if shown == self._shown:
            return
        self._shown = shown
        super().bindings_changed(screen)
