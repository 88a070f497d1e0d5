"""The webui's ``params`` dict for this extension, derived from the config defaults.

The webui copies every entry to ``shared.default_settings["discord_echo-<key>"]`` and lets
settings.yaml override it, so limits a server admin may want to change live here.
"""

from __future__ import annotations

from dataclasses import fields

from discord_echo.ingest.config import ReadConfig


def default_params() -> dict:
    params: dict = {"display_name": "Discord Echo", "is_tab": True}
    for f in fields(ReadConfig):
        params[f.name] = f.default
    return params


def read_config(params: dict) -> ReadConfig:
    """A validated `ReadConfig` from the (possibly settings.yaml-edited) params."""
    return ReadConfig(**{f.name: params.get(f.name, f.default) for f in fields(ReadConfig)})
