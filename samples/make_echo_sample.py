"""Write the echo sample: a synthetic DM where "me" has a voice AND answers what was asked.

``alex_and_sam.json`` shows style only: alex's lines ("lol yeah", "wait fr??") ignore what Sam
said, so a model tuned on it learns to stop answering. Here Sam asks things with checkable
answers (sums, capitals, colours, days, simple facts), proposes plans (which place, what time)
and asks for opinions on named things; alex ("me") answers every one correctly and on topic, in
a voice of his own: lowercase, "ngl"/"tbh"/"lol", an emoji now and then, never a full stop.
Sam writes careful, capitalised sentences. A LoRA that learned alex should therefore sound like
him and still be right, which is what a benchmark can count.

Every fact pool is split once, by position, into a part the sample uses and a held-out part it
never contains; ``quiz(seed, split="held_out")`` draws fresh questions from the held-out part, so
a benchmark with any seed asks about facts the LoRA never saw (``is_correct`` grades a reply).

    python samples/make_echo_sample.py       # rewrites samples/echo_demo.json

Deterministic (fixed seed), standard library only: the committed file is exactly what this writes.
"""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import make_sample  # samples/make_sample.py, beside this file: the message shape is written once, there

OUT = Path(__file__).resolve().parent / "echo_demo.json"

ALEX = {"id": "400000000000000001", "name": "alex", "discriminator": "0000", "nickname": "alex", "isBot": False}
SAM = {"id": "400000000000000002", "name": "sam.writes", "discriminator": "0000", "nickname": "Sam", "isBot": False}

# --- facts, with the answer as alex writes it ---------------------------------------------------------
# alex restates what was asked ("ngl the capital of peru is lima", not a bare "lima"): the small model
# the demo trains retrieves a fact by completing its usual sentence, and a LoRA taught bare one-word
# answers learned to skip that sentence and then guessed (measured: correct answers fell below base).

CAPITALS = [
    ("France", "paris"),
    ("Italy", "rome"),
    ("Spain", "madrid"),
    ("Germany", "berlin"),
    ("Japan", "tokyo"),
    ("England", "london"),
    ("Russia", "moscow"),
    ("China", "beijing"),
    ("Egypt", "cairo"),
    ("Greece", "athens"),
    ("Portugal", "lisbon"),
    ("Canada", "ottawa"),
    ("Ireland", "dublin"),
    ("Austria", "vienna"),
    ("Sweden", "stockholm"),
    ("Norway", "oslo"),
    ("Poland", "warsaw"),
    ("Turkey", "ankara"),
    ("South Korea", "seoul"),
    ("Thailand", "bangkok"),
    ("Belgium", "brussels"),
    ("Denmark", "copenhagen"),
    ("Finland", "helsinki"),
    ("Hungary", "budapest"),
    ("the Czech Republic", "prague"),
    ("Cuba", "havana"),
    ("Peru", "lima"),
    ("Kenya", "nairobi"),
    ("Argentina", "buenos aires"),
    ("Scotland", "edinburgh"),
    ("Australia", "canberra"),
    ("the Netherlands", "amsterdam"),
]
COLOURS = [
    ("a banana", "yellow"),
    ("grass", "green"),
    ("the sky on a clear day", "blue"),
    ("snow", "white"),
    ("a strawberry", "red"),
    ("coal", "black"),
    ("a carrot", "orange"),
    ("chocolate", "brown"),
    ("a lemon", "yellow"),
    ("milk", "white"),
    ("a ripe tomato", "red"),
    ("a lime", "green"),
    ("the sea", "blue"),
    ("a fire truck", "red"),
    ("a polar bear", "white"),
    ("a crow", "black"),
]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
FACTS = [
    ("How many legs does a spider have?", "a spider has 8 legs", ["8", "eight"]),
    ("How many days are there in a week?", "a week has 7 days", ["7", "seven"]),
    ("How many months are there in a year?", "a year has 12 months", ["12", "twelve"]),
    ("What do bees make?", "bees make honey", ["honey"]),
    ("Which animal says moo?", "a cow says moo", ["cow"]),
    ("What is the largest planet in our solar system?", "the largest planet is jupiter", ["jupiter"]),
    ("Which planet is known as the red planet?", "the red planet is mars", ["mars"]),
    ("What is the opposite of hot?", "the opposite of hot is cold", ["cold"]),
    ("How many hours are there in a day?", "a day has 24 hours", ["24", "twenty-four", "twenty four"]),
    ("What do we call frozen water?", "frozen water is ice", ["ice"]),
    ("How many legs does a dog have?", "a dog has 4 legs", ["4", "four"]),
    ("Which animal is known as the king of the jungle?", "the king of the jungle is the lion", ["lion"]),
    ("What is the opposite of up?", "the opposite of up is down", ["down"]),
    ("How many minutes are there in an hour?", "an hour has 60 minutes", ["60", "sixty"]),
    ("What gas do people need to breathe?", "people breathe oxygen", ["oxygen"]),
    ("Which season comes after winter?", "after winter comes spring", ["spring"]),
    ("What is the closest star to the Earth?", "the closest star is the sun", ["sun"]),
    ("How many sides does a triangle have?", "a triangle has 3 sides", ["3", "three"]),
    ("What do cows drink when they are babies?", "baby cows drink milk", ["milk"]),
    ("Which ocean is the largest?", "the largest ocean is the pacific", ["pacific"]),
]
NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen \
sixteen seventeen eighteen nineteen twenty".split()
SUMS = [(a, b) for a in range(1, 11) for b in range(1, 11)]
# Named things to have opinions on; alex always names the thing in his answer.
OPINIONS = [
    ("pizza", "🍕"),
    ("sushi", "🍣"),
    ("tacos", "🌮"),
    ("pineapple on pizza", "🍍"),
    ("coffee", "☕"),
    ("Minecraft", "⛏️"),
    ("Tetris", "🎮"),
    ("chess", "♟️"),
    ("the Beatles", "🎸"),
    ("Taylor Swift", "🎤"),
    ("Star Wars", "🚀"),
    ("Harry Potter", "⚡"),
    ("football", "⚽"),
    ("basketball", "🏀"),
    ("Paris", "🗼"),
    ("the beach", "🏖️"),
    ("cats", "🐱"),
    ("dogs", "🐶"),
    ("winter", "❄️"),
    ("summer", "☀️"),
]
PLACES = [
    ("the library", "the park"),
    ("the cinema", "the bowling alley"),
    ("the pizza place", "the sushi bar"),
    ("the cafe", "the gym"),
    ("my place", "your place"),
    ("the museum", "the zoo"),
]
TIMES = [("6", "7"), ("noon", "one"), ("5", "8"), ("10", "11"), ("3", "4")]
WEEKDAYS_FOR_PLANS = ["Friday", "Saturday", "Sunday", "Monday", "Wednesday"]

# --- how each of them speaks ------------------------------------------------------------------------

SAM_ASK = {
    "capital": [
        "Quick question: what is the capital of {x}?",
        "Do you know the capital of {x}?",
        "I am doing a quiz. What is the capital of {x}?",
    ],
    "colour": [
        "What colour is {x}?",
        "This is a silly one, but what colour is {x}?",
        "My little brother asked me what colour {x} is. What would you say?",
    ],
    "after": ["What day comes after {x}?", "Which day is the day after {x}?"],
    "before": ["What day comes before {x}?", "Which day is the day before {x}?"],
    "fact": ["{x}", "I have another quiz question. {x}", "Settle an argument for me. {x}"],
    "sum": ["What is {a} plus {b}?", "Can you check my maths? What is {a} plus {b}?", "How much is {a} plus {b}?"],
    "opinion": ["What do you think of {x}?", "Be honest, what is your opinion of {x}?", "How do you feel about {x}?"],
    "place": ["Shall we meet at {a} or at {b} on {d}?", "Where should we go on {d}, {a} or {b}?"],
    "time": ["What time works for you on {d}, {a} or {b}?", "Should we meet at {a} or at {b} on {d}?"],
}
ALEX_ANSWER = [
    "{x} ngl",
    "easy, {x} 😅",
    "tbh {x}",
    "{x} obviously lol",
    "pretty sure {x} 🤔",
    "{x}",
    "ok so {x} lol",
    "{x} tbh",
    "ngl {x} 💯",
    "hmm {x} haha",
]
ALEX_OPINION_GOOD = ["{x} is elite ngl {e}", "tbh i love {x} {e}", "{x} is so good lol", "ngl {x} slaps {e}"]
ALEX_OPINION_MEH = [
    "{x} is kinda mid tbh",
    "ngl {x} is overrated lol",
    "idk {x} is ok i guess {e}",
    "not a fan of {x} tbh",
]
ALEX_PLACE = ["{x} sounds good ngl {e}", "{x} tbh", "lets do {x} 🙌", "{x} works for me lol"]
ALEX_TIME = ["{x} works better for me tbh", "{x} is good ngl", "lets say {x} 👍", "{x} lol earlier is hard for me"]
ALEX_HELLO = ["ya whats up 👀", "hey hey", "sup lol", "yo 👋", "ya go ahead"]
ALEX_BYE = ["np see ya 👋", "anytime lol", "np 👍", "ok ttyl", "haha sure thing"]
ALEX_EXTRA = ["also i just woke up lol", "also im starving rn 😭", "anyway whats next", "lol this is fun"]
SAM_HELLO = [
    "Hello! Do you have a minute?",
    "Hi Alex. Can I ask you a few things?",
    "Good evening. Are you busy?",
    "Hey, I hope you are well. I have some questions.",
]
SAM_BYE = [
    "Thank you, that is very helpful.",
    "Great, thanks. Talk to you later.",
    "Perfect. See you soon.",
    "Thanks, Alex. Have a good evening.",
]


def _held_out(index: int) -> bool:
    """The fixed split: every fourth fact (by position) is never put into the sample."""
    return index % 4 == 3


def _pool(items: list, split: str) -> list:
    if split not in ("train", "held_out", "all"):
        raise ValueError(f"split must be 'train', 'held_out' or 'all', not {split!r}")
    return [item for i, item in enumerate(items) if split == "all" or _held_out(i) == (split == "held_out")]


def _question(rng: random.Random, split: str) -> tuple[str, str, list[str], str, str]:
    """One question: (Sam's line, alex's answer, accepted answers, kind, the fact asked about)."""
    kind = rng.choices(["capital", "colour", "day", "fact", "sum"], weights=[3, 2, 2, 3, 2])[0]
    if kind == "capital":
        country, city = rng.choice(_pool(CAPITALS, split))
        answer = f"the capital of {country.lower()} is {city}"
        return rng.choice(SAM_ASK["capital"]).format(x=country), answer, [city], kind, country
    if kind == "colour":
        thing, colour = rng.choice(_pool(COLOURS, split))
        answer = f"{thing} is {colour}"
        return rng.choice(SAM_ASK["colour"]).format(x=thing), answer, [colour], kind, thing
    if kind == "day":
        # The pool is the pair (day, direction); held-out pairs are never asked in the sample.
        pairs = _pool([(d, way) for d in range(7) for way in ("after", "before")], split)
        day, way = rng.choice(pairs)
        other = DAYS[(day + (1 if way == "after" else -1)) % 7]
        answer = f"the day {way} {DAYS[day]} is {other}"
        return rng.choice(SAM_ASK[way]).format(x=DAYS[day].capitalize()), answer, [other], kind, f"{way} {day}"
    if kind == "fact":
        question, answer, accepted = rng.choice(_pool(FACTS, split))
        return rng.choice(SAM_ASK["fact"]).format(x=question), answer, accepted, kind, question
    a, b = rng.choice(_pool(SUMS, split))
    total = a + b
    answer = f"{a} plus {b} is {total}"
    return rng.choice(SAM_ASK["sum"]).format(a=a, b=b), answer, [str(total), NUMBER_WORDS[total]], kind, f"{a}+{b}"


def _plan_or_opinion(rng: random.Random, split: str) -> tuple[str, str, list[str], str]:
    """A plan (which place, what time) or an opinion; any named option counts as on topic."""
    kind = rng.choice(["opinion", "opinion", "place", "time"])
    if kind == "opinion":
        thing, emoji = rng.choice(_pool(OPINIONS, split))
        templates = ALEX_OPINION_GOOD if rng.random() < 0.65 else ALEX_OPINION_MEH
        reply = rng.choice(templates).format(x=thing.lower(), e=emoji)
        return rng.choice(SAM_ASK["opinion"]).format(x=thing), reply, [thing.lower()], kind
    day = rng.choice(WEEKDAYS_FOR_PLANS)
    options = rng.choice(_pool(PLACES if kind == "place" else TIMES, split))
    pick = rng.choice(options)
    emoji = rng.choice(["🙌", "😎", "👍", "🔥"])
    reply = rng.choice(ALEX_PLACE if kind == "place" else ALEX_TIME).format(x=pick, e=emoji)
    return rng.choice(SAM_ASK[kind]).format(a=options[0], b=options[1], d=day), reply, list(options), kind


def quiz(seed: int = 1, count: int = 10, split: str = "held_out") -> list[dict]:
    """``count`` checkable questions as Sam would ask them: ``{"question", "accepted", "kind"}``.

    ``split="held_out"`` (default) draws only facts the sample never contains, so a benchmark run
    with any seed asks fresh questions; "train" draws from what the sample uses, "all" from both.
    No fact is asked twice within one quiz (as far as the pool allows).
    """
    rng = random.Random(seed)
    items, seen = [], set()
    for _ in range(count * 50):
        if len(items) == count:
            break
        question, _answer, accepted, kind, fact = _question(rng, split)
        if (kind, fact) not in seen:
            seen.add((kind, fact))
            items.append({"question": question, "accepted": accepted, "kind": kind})
    return items


def is_correct(reply: str, accepted: list[str]) -> bool:
    """Whether ``reply`` contains one of the accepted answers as a whole word (case-insensitive)."""
    return any(re.search(rf"(?<!\w){re.escape(a)}(?!\w)", reply, re.IGNORECASE) for a in accepted)


def _message(author: dict, moment: datetime, seq: int, content: str, reply_to: str | None = None) -> dict:
    """One message exactly as the bundled style sample (and DiscordChatExporter's JSON) shapes it."""
    return make_sample.message(author, moment, seq, content, reply_to)


def _session(rng: random.Random) -> list[tuple[dict, str, bool]]:
    """One evening's chat as (author, text, is a reply to the line before) triples."""
    turns = [(SAM, rng.choice(SAM_HELLO), False), (ALEX, rng.choice(ALEX_HELLO), False)]
    for _ in range(rng.randint(2, 5)):
        if rng.random() < 0.7:
            question, answer, _accepted, _kind, _fact = _question(rng, "train")
            reply = rng.choice(ALEX_ANSWER).format(x=answer)
        else:
            question, reply, _accepted, _kind = _plan_or_opinion(rng, "train")
        turns.append((SAM, question, False))
        turns.append((ALEX, reply, rng.random() < 0.2))
        if rng.random() < 0.12:  # a second line sent right away (the builder joins it to the reply)
            turns.append((ALEX, rng.choice(ALEX_EXTRA), False))
    if rng.random() < 0.7:
        turns += [(SAM, rng.choice(SAM_BYE), False), (ALEX, rng.choice(ALEX_BYE), False)]
    return turns


def build(seed: int = 7, sessions: int = 48) -> dict:
    """The export as DiscordChatExporter writes a DM channel: sessions 10-40 hours apart."""
    rng = random.Random(seed)
    moment = datetime(2024, 5, 1, 18, 0, tzinfo=timezone.utc)
    messages: list[dict] = []
    for _ in range(sessions):
        for author, text, is_reply in _session(rng):
            moment += timedelta(seconds=rng.randint(20, 240))
            reply_to = messages[-1]["id"] if is_reply and messages else None
            messages.append(_message(author, moment, len(messages) + 1, text, reply_to))
        moment += timedelta(hours=rng.randint(10, 40))
    return make_sample.dm_export(messages, moment + timedelta(days=1))


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
