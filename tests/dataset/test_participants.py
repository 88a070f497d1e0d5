"""Choosing "me": aliases of one person merge, the choice matches by id or name."""

from __future__ import annotations

import pytest
from factories import ME, SAM, Chat

from discord_echo.core.messages import Author
from discord_echo.dataset.participants import ParticipantNotFoundError, list_participants, name_key, resolve_identity


@pytest.mark.parametrize(("a", "b"), [("Alice#1234", "alice"), ("ALICE", "alice"), (" alice ", "alice#0001")])
def test_legacy_and_migrated_names_compare_equal(a, b):
    assert name_key(a) == name_key(b)


def test_aliases_of_one_account_merge_and_txt_names_attach_to_it():
    chat = Chat()
    chat.say(Author("1", "Alice#1234", "Alice"), "old name")
    chat.say(Author("1", "alice", "Ally"), "new name, new display name")
    chat.say(Author(None, "alice", "alice"), "from a TXT export", id=None)
    chat.say(SAM, "hi")
    people = list_participants(chat.messages)
    assert len(people) == 2
    alice = people[0]
    assert alice.count == 3 and alice.ids == {"1"}
    assert alice.names == {"Alice#1234", "alice"}


@pytest.mark.parametrize("selector", ["1", "alex", "ALEX#9999"])
def test_me_by_id_or_any_spelling_of_the_name(selector):
    chat = Chat()
    chat.say(ME, "hey")
    chat.say(SAM, "Hello.")
    identity = resolve_identity(list_participants(chat.messages), [selector])
    assert identity.matches(ME)
    assert not identity.matches(SAM)


def test_an_impostor_with_my_name_but_another_id_is_not_me():
    chat = Chat()
    chat.say(ME, "hey")
    identity = resolve_identity(list_participants(chat.messages), ["alex"])
    assert not identity.matches(Author("77", "alex", "alex", is_bot=True))
    assert identity.matches(Author(None, "alex", "alex"))  # TXT line: the name is all there is


def test_unknown_me_lists_who_is_there():
    chat = Chat()
    chat.say(ME, "hey")
    chat.say(SAM, "Hello.")
    with pytest.raises(ParticipantNotFoundError, match=r"nobody called 'bob' wrote in these exports") as error:
        resolve_identity(list_participants(chat.messages), ["bob"])
    assert "alex (1)" in str(error.value) and "Sam (sam.writes) (1)" in str(error.value)
