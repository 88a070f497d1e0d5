"""Small builders of normalized messages for stage tests (no files needed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from discord_echo.core.messages import Author, Channel, Message, Source

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
DM = Channel(id="900", name="sam", type="DirectTextChat", guild_id="0", guild_name="Direct Messages")
SOURCE = Source("test.json", "json")
ME = Author("1", "alex", "alex")
SAM = Author("2", "sam.writes", "Sam")
BOT = Author("3", "helperbot", "HelperBot", is_bot=True)


class Chat:
    """Appends messages with increasing times: ``chat.say(ME, "hi", after=30)`` (seconds)."""

    def __init__(self, channel: Channel = DM, start: datetime = T0):
        self.channel, self.now, self.messages = channel, start, []

    def say(self, author: Author, content: str, after: float = 30, **fields) -> Message:
        self.now += timedelta(seconds=after)
        index = len(self.messages)
        fields.setdefault("id", str(10_000 + index))
        message = Message(
            timestamp=self.now,
            author=author,
            content=content,
            channel=self.channel,
            source=SOURCE,
            index=index,
            **fields,
        )
        self.messages.append(message)
        return message


# --- the tab, driven the way gradio calls its handlers ---------------------------------------------------

ALEX_ID = "400000000000000001"  # "alex" in samples/alex_and_sam.json


def write_dataset_in_tab(tab, export, name: str) -> None:
    """Read ``export``, preview with alex as me and the forms' values, write dataset ``name``."""
    c = tab.c
    read = tab.on_read([str(export)], "")
    forms = [w.value for stage in tab.forms.values() for w in stage.values()]
    preview = tab.on_preview(read[c["paths"]], [ALEX_ID], c["model"].value, "Chat Template", None, *forms)
    written = tab.on_write(preview[c["result"]], name, False, preview[c["recipe"]])
    assert f"Wrote {name}.json" in written[c["write_status"]], written


def profile_values(panel, profile: str, **changes) -> list:
    """The Train section's settings values for ``profile``, with some fields changed."""
    settings = dict(zip(panel.settings_widgets, panel.on_profile(profile)[:-1], strict=True))
    settings.update(changes)
    return list(settings.values())
