"""Events beyond the buttons' clicks, in the Blocks being built (the standalone app's or the webui's)."""

from __future__ import annotations

from collections.abc import Callable


def on_page_load(fn: Callable, inputs: list, outputs: list) -> bool:
    """Run ``fn`` each time the page (re)loads; False where no Blocks is being built (nothing wired).

    gradio 4.37 and 5 both keep the Blocks being built in ``gradio.context.Context.root_block`` and both
    offer its ``load`` event; the tab uses it so a reloaded page catches up (a running training, the
    webui's loaded model).
    """
    from gradio.context import Context

    root = Context.root_block
    if root is None:
        return False
    root.load(fn, inputs, outputs)
    return True
