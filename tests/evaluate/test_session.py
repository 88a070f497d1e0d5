"""Compare and Evaluate as library calls (no gradio): the dataset's files, picking a conversation, the cache."""

from __future__ import annotations

import json
import os

import pytest

from discord_echo.core.errors import EchoError
from discord_echo.core.safe_files import FileExistsRefusedError, InvalidNameError
from discord_echo.evaluate.metrics import HeldOutPair
from discord_echo.evaluate.session import (
    DEFAULT_ME,
    TYPED_LABEL,
    TYPED_PICK,
    ComparerCache,
    DatasetBuild,
    adapter_folder,
    chosen_prompt,
    first_pick,
    friend_of,
    pair_rows,
    pick_choices,
    short,
)

PERSONA = "You are alex, chatting on Discord with Sam."
ROWS = [
    {
        "messages": [
            {"role": "system", "content": PERSONA},
            {"role": "user", "content": "how was the   concert?"},
            {"role": "assistant", "content": "sooo good"},
            {"role": "user", "content": "jealous"},
            {"role": "assistant", "content": "next time u come"},
        ]
    }
]


def write_build(user_data, name="echo", rows=ROWS, persona=PERSONA) -> DatasetBuild:
    build = DatasetBuild.named(user_data, name)
    build.eval_path.parent.mkdir(parents=True, exist_ok=True)
    if rows is not None:
        build.eval_path.write_text(json.dumps(rows), encoding="utf-8")
    build.sidecar.write_text(json.dumps({"report": {"me": "alex", "system_prompt": persona}}), encoding="utf-8")
    return build


def test_a_build_is_found_by_name_inside_user_data(tmp_path):
    build = DatasetBuild.named(tmp_path, " echo ")
    folder = tmp_path / "training" / "datasets"
    assert build.eval_path == folder / "echo-eval.json" and build.sidecar == folder / "echo.discord_echo.yaml"
    for bad in ("../echo", "echo-eval", ""):
        with pytest.raises(InvalidNameError):
            DatasetBuild.named(tmp_path, bad)


def test_held_out_pairs_persona_and_me_come_from_the_builds_files(tmp_path):
    build = write_build(tmp_path)
    pairs = build.held_out_pairs()
    assert [p.reply for p in pairs] == ["sooo good", "next time u come"]
    assert pairs[1].prompt[-1] == {"role": "user", "content": "jealous"} and pairs[1].prompt[0]["content"] == PERSONA
    assert build.me() == "alex" and build.persona() == PERSONA
    assert "instruct" in build.instructions("Chat Template")
    without = DatasetBuild.named(tmp_path, "gone")  # no sidecar: a report still names someone
    assert without.me() == DEFAULT_ME and without.persona() is None and without.instructions("Chat Template") == ""


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "not found: write a dataset with a held-out share first"),
        ("{ not json", "cannot be read as a dataset"),
        ('{"rows": []}', "not a list of rows"),
        ('[{"turns": []}]', "rows of another shape"),
        ("[[1, 2]]", "rows of another shape"),
    ],
)
def test_an_unreadable_held_out_file_says_what_to_do(tmp_path, content, says):
    build = write_build(tmp_path, rows=None)
    if content is not None:
        build.eval_path.write_text(content, encoding="utf-8")
    with pytest.raises(EchoError, match=says):
        build.held_out_pairs()


def test_choices_carry_the_pair_index_as_their_value(tmp_path):
    pairs = write_build(tmp_path).held_out_pairs()
    choices = pick_choices(pairs)
    assert choices == [(TYPED_LABEL, TYPED_PICK), ("1. how was the concert?", 0), ("2. jealous", 1)]
    assert first_pick(pairs) == 0 and first_pick([]) == TYPED_PICK and pick_choices([]) == [(TYPED_LABEL, TYPED_PICK)]
    assert short("x" * 100, 10) == "x" * 9 + "…" and short("a\n b") == "a b"


def test_the_chosen_prompt_is_the_pairs_or_the_typed_message(tmp_path):
    pairs = write_build(tmp_path).held_out_pairs()
    rows = pair_rows(pairs)  # what a UI keeps between requests gives the same prompt as the pairs
    for kept in (pairs, rows):
        prompt, real = chosen_prompt(kept, 1, "ignored", PERSONA)
        assert prompt == pairs[1].prompt and real == "next time u come" and friend_of(prompt) == "jealous"
    prompt, real = chosen_prompt(rows, TYPED_PICK, "  are you coming?  ", PERSONA)
    assert prompt == [{"role": "system", "content": PERSONA}, {"role": "user", "content": "are you coming?"}]
    assert real == ""
    assert chosen_prompt([], None, "hi", None) == ([{"role": "user", "content": "hi"}], "")
    with pytest.raises(EchoError, match="pick a held-out conversation or type a message first"):
        chosen_prompt(rows, TYPED_PICK, "  ", PERSONA)
    with pytest.raises(EchoError, match="load the held-out conversations again"):
        chosen_prompt(rows, 2, "", PERSONA)


def test_the_character_is_written_from_the_persona_once(tmp_path):
    build = write_build(tmp_path)
    path = build.write_character(tmp_path)
    assert path == tmp_path / "characters" / "alex.yaml" and PERSONA in path.read_text(encoding="utf-8")
    with pytest.raises(FileExistsRefusedError):
        build.write_character(tmp_path)
    assert build.write_character(tmp_path, overwrite=True) == path
    with pytest.raises(EchoError, match="without a persona system prompt"):
        write_build(tmp_path, "plain", persona=None).write_character(tmp_path)


def test_adapter_folder_wants_a_trained_lora_inside_the_loras_folder(tmp_path):
    with pytest.raises(EchoError, match="no trained LoRA there yet; train one first"):
        adapter_folder(tmp_path, "echo")
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "adapter_config.json").write_text("{}")
    assert adapter_folder(tmp_path, " echo ") == tmp_path / "echo"
    with pytest.raises(InvalidNameError):
        adapter_folder(tmp_path, "../echo")


def test_the_cache_keeps_one_comparer_until_model_template_or_adapter_weights_change(tmp_path):
    adapter = tmp_path / "echo"
    adapter.mkdir()
    weights = adapter / "adapter_model.safetensors"
    weights.write_bytes(b"1")
    loads: list[str] = []

    def loader(tag):
        def load():
            loads.append(tag)
            return HeldOutPair([], tag)  # any object stands in for a Comparer

        return load

    cache = ComparerCache()
    first = cache.get("model", adapter, "Chat Template", loader("a"))
    assert cache.get("model", adapter, "Chat Template", loader("b")) is first and loads == ["a"]
    assert cache.get("model", adapter, "Alpaca", loader("c")).reply == "c"
    assert cache.get("other", adapter, "Alpaca", loader("d")).reply == "d"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # retrained under the same name
    assert cache.get("other", adapter, "Alpaca", loader("e")).reply == "e"
    cache.forget()
    assert cache.get("other", adapter, "Alpaca", loader("f")).reply == "f"
    assert loads == ["a", "c", "d", "e", "f"]


def test_the_friends_lines_are_scored_without_the_builds_own_stand_in_opener(tmp_path):
    from discord_echo.evaluate.metrics import OPENER_PROMPT, their_samples

    build = write_build(tmp_path)
    assert build.opener_prompt() == OPENER_PROMPT  # a report without settings: the default
    custom = "(we start talking)"
    info = {"report": {"me": "alex"}, "settings": {"dataset": {"opener_prompt": custom}}}
    build.sidecar.write_text(json.dumps(info), encoding="utf-8")
    assert build.opener_prompt() == custom
    # A conversation I opened: the build put its stand-in first. Flipped, it must not become a line of theirs.
    opened = [{"role": "user", "content": custom}, {"role": "assistant", "content": "yo"},
              {"role": "user", "content": "hey alex"}, {"role": "assistant", "content": "sup"}]  # fmt: skip
    (flipped,) = their_samples([opened], build.opener_prompt())
    assert [m["content"] for m in flipped if m["role"] == "assistant"] == ["hey alex"]
