"""The footer of keys, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Left out below 90 columns so the rest fit without a key cut in half (still in help and palette).
_WIDE_ONLY = frozenset({"toggle_rate_mode", "app.toggle_rate_mode"})


class KeyFooter(Footer):
    """Textual's footer rebuilds itself whenever focus moves.

    Opening or closing the filter field moves focus without changing any key the footer shows, and
    rebuilding its fifteen keys costs that key press tens of milliseconds while the workers run.
    """

    _shown: tuple[object, ...] | None = None
    narrow: reactive[bool] = reactive(False, recompose=True)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if self.narrow and isinstance(widget, FooterKey) and widget.action in _WIDE_ONLY:
                continue
            yield widget

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
