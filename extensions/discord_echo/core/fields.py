"""Fields of the stage config dataclasses: each default, label and help written once, and what a field accepts.

Every config dataclass builds its fields with `setting`, which stores the label and help text in the
field's metadata; the CLI flags and the tab's widgets are both generated from those fields, so they show
the same label, help and default. A field that takes one of a few values declares them once, as a
``Literal`` annotation: `field_kind` and `field_choices` read them for the front ends (annotations are
strings under ``from __future__ import annotations``, so they are resolved with ``typing.get_type_hints``),
and `check_choices` refuses any other value with a `ConfigError` naming the field.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin

from discord_echo.core.errors import ConfigError

# What a field holds, as the front ends see it: a choice among a Literal's values, a yes/no switch,
# a whole number, a number, a list of names (a tuple; written "a, b"), or text.
Kind = Literal["choice", "bool", "int", "float", "list", "str"]

_MISSING: Any = dataclasses.MISSING


def setting(
    default: Any = _MISSING,
    label: str = "",
    help: str = "",
    *,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A dataclass field with its default (or ``default_factory``) and the label and help the front ends show.

    Both texts are required: a field without them would be a flag or widget nobody can read.
    """
    if not (isinstance(label, str) and label.strip() and isinstance(help, str) and help.strip()):
        raise TypeError("a setting needs a label and a help text")
    metadata = {"label": label, "help": help}
    if default_factory is not None:
        if default is not _MISSING:
            raise TypeError("a setting takes a default or a default_factory, not both")
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    if default is _MISSING:
        raise TypeError("a setting needs a default or a default_factory")
    return dataclasses.field(default=default, metadata=metadata)


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of ``cls`` (real types, not the strings ``__future__.annotations`` leaves)."""
    return typing.get_type_hints(cls)


def literal_choices(annotation: Any) -> tuple[Any, ...]:
    """The values a ``Literal`` annotation allows (also inside ``X | None``); ``()`` for any other type."""
    origin = get_origin(annotation)
    if origin is Literal:
        return get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) == 1:
            return literal_choices(inner[0])
    return ()


def field_choices(cls: type, name: str) -> tuple[Any, ...]:
    """The values field ``name`` of dataclass ``cls`` allows, or ``()`` when it is not a choice."""
    return literal_choices(type_hints(cls)[name])


def _kind(annotation: Any) -> tuple[Kind, tuple[Any, ...]]:
    choices = literal_choices(annotation)
    if choices:
        return "choice", choices
    origin = get_origin(annotation)
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is float:
        return "float", ()
    if origin is tuple:
        return "list", ()
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) == 1:
            return _kind(inner[0])
    return "str", ()


def field_kind(cls: type, name: str) -> tuple[Kind, tuple[Any, ...]]:
    """What field ``name`` of ``cls`` holds (see `Kind`) and, for a choice, its allowed values.

    ``X | None`` reads as ``X``; a union of several types (``str | tuple[str, ...]``) reads as text, which
    the config's ``__post_init__`` then parses.
    """
    return _kind(type_hints(cls)[name])


def check_choices(config: Any) -> None:
    """Raise `ConfigError` naming the first ``Literal`` field of ``config`` whose value is not one of its choices.

    ``None`` passes for a field annotated ``Literal[...] | None``.
    """
    cls = type(config)
    hints = type_hints(cls)
    for f in dataclasses.fields(cls):
        choices = literal_choices(hints[f.name])
        value = getattr(config, f.name)
        if not choices or value in choices or (value is None and type(None) in get_args(hints[f.name])):
            continue
        raise ConfigError(f.name, value, f"must be one of {', '.join(map(str, choices))}")
