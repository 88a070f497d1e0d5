"""The tab's handler boundary: errors become a message, and the owner-only actions stay off for others.

`guarded` wraps every event handler of the tab and its sections. An `EchoError` is the user's to fix
and is shown as it is; anything else is a bug: it is logged with its traceback and summarized, so a
bad file never shows a traceback or takes the webui down. Generator handlers (streaming ones) are
wrapped as generators, and their failure is their last update.

The webui's ``--multi-user`` makes the tab read-only for everyone: nothing may write files, train,
load models or read the owner's data. `owner_only` is the one place that decides it: ``guarded(...,
owner="training")`` refuses a handler for that reason, `refuse_unless_owner` refuses a part of one,
and ``interactive=owner_only(context)`` greys out the buttons that would.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, Protocol

from discord_echo.core.errors import EchoError
from discord_echo.frontends.ui.render import error_html

log = logging.getLogger("discord_echo")


class _Context(Protocol):
    multi_user: bool


def owner_only(context: _Context) -> bool:
    """True where the owner's actions are allowed: everywhere but the webui's ``--multi-user`` mode."""
    return not context.multi_user


def refuse_unless_owner(context: _Context, action: str, hint: str = "") -> None:
    """Raise `EchoError` ("<action> is disabled in --multi-user mode[; hint]") when others use the tab."""
    if not owner_only(context):
        raise EchoError(f"{action} is disabled in --multi-user mode" + (f"; {hint}" if hint else ""))


def failure_message(exc: Exception, where: str) -> str:
    """The message for a failed handler: an `EchoError` as it is; anything else logged and summarized."""
    if isinstance(exc, EchoError):
        return str(exc)
    log.error("Discord Echo: unexpected error in %s", where, exc_info=exc)
    return f"unexpected {type(exc).__name__}: {exc} (see the console)"


def guarded(
    failed: Callable[[Any, str], Any], *, owner: str | None = None, prefix: str = ""
) -> Callable[[Callable], Callable]:
    """Wrap a handler method so that an error becomes the outputs ``failed(self, error_html(message))``.

    ``owner``: the action the handler performs for the owner only ("writing files"); in ``--multi-user``
    mode (``self.context.multi_user``) it is refused before the handler runs. ``prefix`` goes before the
    message ("cannot estimate memory: "). Generator handlers stay generators: what they yielded stands,
    and the failure is yielded last.
    """

    def wrap(handler: Callable) -> Callable:
        def fail(self: Any, exc: Exception) -> Any:
            return failed(self, error_html(prefix + failure_message(exc, handler.__name__)))

        if inspect.isgeneratorfunction(handler):

            @functools.wraps(handler)
            def stream(self: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    if owner:
                        refuse_unless_owner(self.context, owner)
                    yield from handler(self, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - the UI boundary: never let it reach gradio
                    yield fail(self, exc)

            return stream

        @functools.wraps(handler)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                if owner:
                    refuse_unless_owner(self.context, owner)
                return handler(self, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the UI boundary: never let it reach gradio
                return fail(self, exc)

        return run

    return wrap
