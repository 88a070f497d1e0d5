"""No input can drive the terminal: control characters in names and text are printed as escapes."""

from __future__ import annotations

import json
import zipfile

from discord_echo.core.printable import printable
from discord_echo.frontends.cli import main

_EXPORT = {
    "guild": {"id": "1", "name": "G\x1b]0;pwned\x07"},
    "channel": {"id": "2", "name": "c\x1b[2J", "type": "GuildTextChat"},
    "messages": [
        {
            "id": "1111111111111111111",
            "type": "Default",
            "timestamp": "2024-01-01T00:00:00+00:00",
            "content": "hi",
            "author": {"id": "3", "name": "eve\r\n  ERROR: fake", "nickname": "eve\x9b31m", "isBot": False},
        }
    ],
}


def test_inspect_escapes_member_names_channels_and_authors(tmp_path, capsys):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("evil\x1b]0;title\x07\n  ERROR: fake.json", json.dumps(_EXPORT))
        zf.writestr("clear\x1b[2J\x1b[H.txt", "not an export")
    assert main(["inspect", str(archive)]) == 0
    out = capsys.readouterr().out
    assert not any(ord(c) < 32 and c not in "\n\t" or 0x7F <= ord(c) <= 0x9F for c in out)
    assert "evil\\x1b]0;title\\x07\\n  ERROR: fake.json" in out
    assert "clear\\x1b[2J\\x1b[H.txt" in out
    assert not any(line.lstrip().startswith("ERROR: fake") for line in out.splitlines())


def test_printable_keeps_ordinary_text_and_escapes_bidi_overrides():
    assert printable("naïve 漢字 ok") == "naïve 漢字 ok"
    assert printable("a\u202eb\tc\nd", keep="\n\t") == "a\\u202eb\tc\nd"
    assert printable("a\rb\x00") == "a\\rb\\x00"
