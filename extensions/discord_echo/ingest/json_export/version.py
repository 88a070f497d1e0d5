"""Guess the exporter version of a DCE JSON export from the fields it carries.

Takes the root metadata (every root key but ``messages``) and the first message objects as
parsed by orjson; gives `FileReport.exporter_version` as ``">=X.Y"``, the oldest
DiscordChatExporter release that writes every field seen. Implements docs/formats.md, JSON version hints.
"""

from __future__ import annotations

from typing import Any

from discord_echo.ingest.base import FileReport

# Fields whose presence proves a minimum exporter version (docs/formats.md, JSON version hints).
_ROOT_MARKS = {"exportedAt": (2, 40, 1)}
_CHANNEL_MARKS = {"categoryId": (2, 27), "category": (2, 20)}
_MESSAGE_MARKS = {
    "forwardedMessage": (2, 47),
    "inlineEmojis": (2, 44),
    "interaction": (2, 38),
    "stickers": (2, 33),
    "reference": (2, 26),
    "mentions": (2, 25),
    "callEndedTimestamp": (2, 23),
}
_AUTHOR_MARKS = {"roles": (2, 40, 1), "nickname": (2, 27), "color": (2, 27)}
_EMBED_MARKS = {"video": (2, 42, 9), "images": (2, 35), "color": (2, 24)}


class VersionGuess:
    """The lowest exporter version that explains what was seen so far, kept in ``report``."""

    def __init__(self, report: FileReport) -> None:
        self.report = report
        self.version = (2, 18)

    def saw_version(self, version: tuple[int, ...]) -> None:
        if version > self.version:
            self.version = version
            self.report.exporter_version = ">=" + ".".join(map(str, version))

    def saw_root(self, meta: dict[str, Any]) -> None:
        """Raise the guess from the root keys read so far (and set it in the report)."""
        self.report.exporter_version = ">=" + ".".join(map(str, self.version))
        for key, version in _ROOT_MARKS.items():
            if key in meta:
                self.saw_version(version)
        channel = meta.get("channel")
        if isinstance(channel, dict):
            for key, version in _CHANNEL_MARKS.items():
                if key in channel:
                    self.saw_version(version)

    def sniff_version(self, m: Any) -> None:
        """Raise the version guess from the fields one message carries (docs/formats.md, JSON version hints)."""
        if not isinstance(m, dict):
            return
        for key, version in _MESSAGE_MARKS.items():
            if key in m:
                self.saw_version(version)
        author = m.get("author")
        if isinstance(author, dict):
            for key, version in _AUTHOR_MARKS.items():
                if key in author:
                    self.saw_version(version)
        for reaction in _dicts(m.get("reactions")):
            if "users" in reaction:
                self.saw_version((2, 40, 4))
            if isinstance(reaction.get("emoji"), dict) and "code" in reaction["emoji"]:
                self.saw_version((2, 38))
        for embed in _dicts(m.get("embeds")):
            for key, version in _EMBED_MARKS.items():
                if key in embed:
                    self.saw_version(version)
            for part in ("thumbnail", "image", "author", "footer"):
                if isinstance(embed.get(part), dict) and any("anonicalUrl" in k for k in embed[part]):
                    self.saw_version((2, 46, 1))


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []
