"""Gradio widgets generated from the stage config dataclasses, and configs built back from them.

Each config field holds its default, label and help once (docs/architecture.md, Configuration fields);
`widgets_for` turns every field into a component with that label as ``label``, the help as
``info`` and the default as ``value``, and `config_from` builds the config from the values
the user set, so validation runs in the config's ``__post_init__`` whichever front end
made it. What a field holds, and a ``Literal`` field's choices, are read by
`discord_echo.core.fields.field_kind`, the same reader the CLI's flags use. Only components
that exist, with the same arguments, in gradio 4.37 (the webui), 5 and 6 are used
(docs/webui-trainer.md, Gradio 4.37, 5 and 6).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from discord_echo.core.fields import field_kind


def widget_value(value: Any) -> Any:
    """A config value as its widget shows it: tuples (channel lists, module names) as ``a, b``."""
    return ", ".join(value) if isinstance(value, tuple) else value


def widgets_for(cls: type, prefix: str, skip: tuple[str, ...] = (), values: Any = None) -> dict[str, Any]:
    """One gradio component per field of ``cls`` (name -> component), inside the current layout.

    ``values``: an instance of ``cls`` whose values the widgets start with (default: the field defaults).

    Every component gets ``elem_id = f"{prefix}-{field}"``: the webui's own Training tab has
    components with the same labels ("Epochs"...), so tests and CSS must not go by label.
    """
    import gradio as gr

    widgets: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        kind, choices = field_kind(cls, f.name)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if values is not None:
            default = getattr(values, f.name)
        common = {
            "label": f.metadata.get("label", f.name),
            "info": f.metadata.get("help"),
            "elem_id": f"{prefix}-{f.name.replace('_', '-')}",
        }
        if kind == "bool":
            widgets[f.name] = gr.Checkbox(value=bool(default), **common)
        elif kind == "choice":
            widgets[f.name] = gr.Dropdown(choices=list(choices), value=default, **common)
        elif kind in ("int", "float"):
            value = default if default is not None else 0
            widgets[f.name] = gr.Number(value=value, precision=0 if kind == "int" else None, **common)
        elif kind == "list":
            widgets[f.name] = gr.Textbox(value=widget_value(tuple(default)), **common)
        else:
            widgets[f.name] = gr.Textbox(value="" if default is None else str(default), **common)
    return widgets


def config_from(cls: type, values: dict[str, Any]) -> Any:
    """Build ``cls`` from widget values, converting what the widgets hand back.

    Raises the config's own `ConfigError` for a value that cannot work.
    """
    kwargs = {}
    for name, value in values.items():
        kind, _ = field_kind(cls, name)
        if kind == "int" and value is not None:
            value = int(value)
        elif kind == "float" and value is not None:
            value = float(value)
        elif kind == "list":
            value = tuple(part.strip() for part in str(value or "").split(",") if part.strip())
        elif kind == "bool":
            value = bool(value)
        kwargs[name] = value
    return cls(**kwargs)
