"""Events beyond the buttons' clicks, in the Blocks being built (the standalone app's or the webui's).

Inside the webui the tab never holds the Blocks object (the webui builds it and calls our ``ui()`` within it),
so both functions reach it through gradio's ``gradio.context.Context.root_block``, which gradio sets while a
Blocks is being built. That attribute is not documented API: tests/frontends/test_uploads.py fails loudly
if a gradio upgrade drops it, and each function does nothing (returns False) where it is absent.
"""

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


def on_page_unload(fn: Callable[[], None]) -> bool:
    """Run ``fn`` (no inputs, no outputs) in the session that closes its page; False where nothing is wired.

    ``Blocks.unload`` exists since gradio 4.25 (the webui's 4.37 and 5 both have it); gradio runs it with the
    closing session's request, so ``fn`` can clean up what that session left (its uploads).
    """
    from gradio.context import Context

    root = Context.root_block
    if root is None or not hasattr(root, "unload"):
        return False
    root.unload(fn)
    return True
