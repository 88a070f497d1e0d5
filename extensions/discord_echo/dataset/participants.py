"""Who is who: list the authors of an export and decide which of them is "me".

One person shows up under several names over the years: ``Alice#1234`` (legacy FullName
in CSV/TXT), ``alice`` (after Discord's 2023 username migration), a display name or guild
nickname, and in TXT exports with no id at all (docs/formats.md, Identity). A `Participant`
gathers every id and name seen for one person; `Identity` is what the pipeline matches
messages against once the user has picked themselves (and any aliases).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from discord_echo.core.errors import EchoError
from discord_echo.core.messages import Author, Message

_DISCRIMINATOR = re.compile(r"#\d{4}$")


def name_key(name: str) -> str:
    """Comparable form of a name: ``"Alice#1234"`` and ``"alice"`` give the same key.

    The 2023 migration made usernames lowercase and dropped discriminators, so both
    variants of one account compare equal.
    """
    return _DISCRIMINATOR.sub("", name.strip()).casefold()


class ParticipantNotFoundError(EchoError):
    """The chosen "me" matches nobody in the export."""

    def __init__(self, wanted: Iterable[str], participants: list[Participant]):
        self.wanted = list(wanted)
        shown = ", ".join(f"{p.label} ({p.count})" for p in participants[:15])
        more = f" and {len(participants) - 15} more" if len(participants) > 15 else ""
        super().__init__(
            f"nobody called {' or '.join(map(repr, self.wanted))} wrote in these exports. "
            f"Authors found: {shown}{more}. Pass one of these names or an author id."
        )


@dataclass
class Participant:
    """Everything seen of one person: ids, names, display names, message count."""

    ids: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)  # account names / FullNames as exported
    display_names: set[str] = field(default_factory=set)
    count: int = 0
    is_bot: bool = False

    @property
    def label(self) -> str:
        name = sorted(self.names, key=len)[0] if self.names else "?"
        display = sorted(self.display_names - self.names)
        return f"{display[0]} ({name})" if display else name

    @property
    def key(self) -> str:
        """A stable selector for this person: an id if there is one, else a name."""
        return sorted(self.ids)[0] if self.ids else sorted(self.names)[0]

    def name_keys(self) -> set[str]:
        return {name_key(n) for n in self.names}


@dataclass(frozen=True)
class Identity:
    """The set of ids and name keys that mean "me"."""

    ids: frozenset[str]
    name_keys: frozenset[str]

    def matches(self, author: Author) -> bool:
        # With ids, the id decides: a webhook or an impostor may reuse the name. Without
        # (TXT, old CSV) only the name is there to go by.
        if author.id is not None and self.ids:
            return author.id in self.ids
        return name_key(author.name) in self.name_keys or name_key(author.display_name) in self.name_keys


def list_participants(messages: Iterable[Message]) -> list[Participant]:
    """Authors with message counts, aliases of one account merged, most active first.

    Authors sharing an id are one person; an author seen without id (TXT) joins the
    person whose name key matches.
    """
    counts: Counter[Author] = Counter(message.author for message in messages)
    return participants_from_counts(counts)


def participants_from_counts(counts: Mapping[Author, int]) -> list[Participant]:
    """`list_participants` for callers that counted authors themselves while streaming."""
    by_id: dict[str, Participant] = {}
    by_name: dict[str, Participant] = {}
    # Authors with ids first, so id-less names attach to a known person.
    for author, count in sorted(counts.items(), key=lambda item: item[0].id is None):
        key = name_key(author.name)
        person = by_id.get(author.id) if author.id is not None else by_name.get(key)
        if person is None:
            person = Participant()
            if author.id is not None:
                by_id[author.id] = person
        if author.id is not None:
            person.ids.add(author.id)
        person.names.add(author.name)
        person.display_names.add(author.display_name)
        person.count += count
        person.is_bot = person.is_bot or author.is_bot
        by_name.setdefault(key, person)
    unique = {id(p): p for p in [*by_id.values(), *by_name.values()]}
    return sorted(unique.values(), key=lambda p: (-p.count, p.label))


def resolve_identity(participants: list[Participant], wanted: Iterable[str]) -> Identity:
    """The `Identity` for the given ids or names (any alias; several may be merged).

    Raises `ParticipantNotFoundError` listing who is there when one of them matches nobody.
    """
    wanted = [w for w in wanted if w.strip()]
    if not wanted:
        raise ParticipantNotFoundError(["(nobody given)"], participants)
    ids: set[str] = set()
    keys: set[str] = set()
    for selector in wanted:
        key = name_key(selector)
        found = [
            p
            for p in participants
            if selector in p.ids or key in p.name_keys() or key in {name_key(d) for d in p.display_names}
        ]
        if not found:
            raise ParticipantNotFoundError([selector], participants)
        for person in found:
            ids |= person.ids
            keys |= person.name_keys()
    return Identity(frozenset(ids), frozenset(keys))
