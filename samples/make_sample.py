"""Write the bundled sample: a synthetic two-person DM export in DiscordChatExporter JSON.

Nobody real: "alex" (the user, "me") writes short lowercase lines with emoji and no full
stops; "Sam" writes careful, capitalised sentences. The styles differ on purpose, so a LoRA
trained on alex's turns is visibly different from the base model and from Sam.

    python samples/make_sample.py            # rewrites samples/alex_and_sam.json

Deterministic (fixed seed): the committed file is exactly what this script writes.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

OUT = Path(__file__).resolve().parent / "alex_and_sam.json"
EPOCH_MS = 1420070400000

ALEX = {"id": "400000000000000001", "name": "alex", "discriminator": "0000", "nickname": "alex", "isBot": False}
SAM = {"id": "400000000000000002", "name": "sam.writes", "discriminator": "0000", "nickname": "Sam", "isBot": False}

TOPICS = [
    "the game last night",
    "your new job",
    "that pizza place",
    "the weekend",
    "the concert",
    "the exam",
    "your cat",
    "the new phone",
    "the hiking trip",
    "the movie",
    "the bug at work",
    "the road trip",
]
SAM_OPENERS = [
    "Hey! How did {t} go?",
    "Did you hear anything about {t}?",
    "I keep thinking about {t}.",
    "What do you think about {t}?",
    "Are we still on for {t}?",
    "Quick question about {t}.",
]
SAM_FOLLOWUPS = [
    "That makes sense. I would probably have done the same.",
    "Honestly, I did not expect that at all.",
    "Fair enough. Let me know if anything changes.",
    "I see. Should we plan something for Friday?",
    "Good to hear. I was a little worried about it.",
    "Interesting. Tell me more when you have time.",
]
ALEX_REPLIES = [
    "lol yeah it was kinda wild",
    "ngl i totally forgot about {t} 😅",
    "omg yes!! so good",
    "idk man it was mid tbh",
    "haha ok ok",
    "wait fr??",
    "yeah im down 🙌",
    "nah not really lol",
    "bro {t} was insane",
    "ok but hear me out",
    "lmaooo",
    "sure thing 👍",
    "ugh dont remind me",
    "brb getting food",
    "tbh i kinda liked it",
    "same lol",
    "yesss finally",
]
ALEX_BURSTS = ["also", "wait", "and like", "anyway"]


def snowflake(moment: datetime, seq: int) -> str:
    ms = int(moment.timestamp() * 1000) - EPOCH_MS
    return str((ms << 22) | (seq & 0xFFF))


def message(author: dict, moment: datetime, seq: int, content: str, reply_to: str | None = None) -> dict:
    msg = {
        "id": snowflake(moment, seq),
        "type": "Reply" if reply_to else "Default",
        "timestamp": moment.isoformat(timespec="milliseconds"),
        "timestampEdited": None,
        "callEndedTimestamp": None,
        "isPinned": False,
        "content": content,
        "author": {**author, "color": None, "roles": [], "avatarUrl": "https://cdn.discordapp.com/embed/avatars/0.png"},
        "attachments": [],
        "embeds": [],
        "stickers": [],
        "reactions": [],
        "mentions": [],
        "inlineEmojis": [],
    }
    if reply_to:
        msg["reference"] = {"messageId": reply_to, "channelId": "500000000000000001", "guildId": None}
    return msg


def build(seed: int = 7, sessions: int = 40, gap_hours: tuple[int, int] = (10, 40)) -> dict:
    """The DM export: ``sessions`` chats about a topic, ``gap_hours`` (at random between the two) apart."""
    rng = random.Random(seed)
    moment = datetime(2024, 3, 1, 18, 0, tzinfo=timezone.utc)
    messages, seq = [], 0
    for _ in range(sessions):
        topic = rng.choice(TOPICS)
        turns = [(SAM, rng.choice(SAM_OPENERS).format(t=topic))]
        for _ in range(rng.randint(2, 5)):
            turns.append((ALEX, rng.choice(ALEX_REPLIES).format(t=topic)))
            if rng.random() < 0.3:  # alex often sends a second line right away
                turns.append((ALEX, f"{rng.choice(ALEX_BURSTS)} {rng.choice(ALEX_REPLIES).format(t=topic)}"))
            turns.append((SAM, rng.choice(SAM_FOLLOWUPS)))
        turns.append((ALEX, rng.choice(ALEX_REPLIES).format(t=topic)))
        for author, text in turns:
            moment += timedelta(seconds=rng.randint(20, 240))
            seq += 1
            messages.append(message(author, moment, seq, text))
        moment += timedelta(hours=rng.randint(*gap_hours))
    return dm_export(messages, moment + timedelta(days=1))


def dm_export(messages: list[dict], exported_at: datetime) -> dict:
    """The DiscordChatExporter JSON document of the DM with Sam holding ``messages`` (both samples use it)."""
    return {
        "guild": {"id": "0", "name": "Direct Messages", "iconUrl": "https://cdn.discordapp.com/embed/avatars/0.png"},
        "channel": {
            "id": "500000000000000001",
            "type": "DirectTextChat",
            "categoryId": None,
            "category": None,
            "name": "Sam",
            "topic": None,
        },
        "dateRange": {"after": None, "before": None},
        "exportedAt": exported_at.isoformat(),
        "messages": messages,
        "messageCount": len(messages),
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
