"""From an export to the dataset files the webui trainer reads: only my words are trained,
each once, every row fits the cutoff, and the report adds up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from tiny_models import build_tiny_tokenizer

from discord_echo.core.safe_files import FileExistsRefusedError, InvalidNameError
from discord_echo.dataset.cleaning import CleaningConfig
from discord_echo.dataset.pipeline import BuildConfig, EmptyDatasetError, build_dataset, write_build
from discord_echo.dataset.samples import DatasetConfig
from discord_echo.ingest.exports import read_export
from discord_echo.templates.chat import load_renderer

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "samples"))
import make_sample  # noqa: E402  (the bundled sample's generator: two people, two styles)


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export") / "dm.json"
    data = make_sample.build(seed=11, sessions=60)
    # A system message and a bot line the dataset must never contain.
    first = data["messages"][0]
    data["messages"].insert(1, {**first, "id": "1", "type": "ChannelPinnedMessage", "content": "Pinned a message."})
    path.write_text(json.dumps(data, indent=2))
    return path


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> Path:
    return build_tiny_tokenizer(tmp_path_factory.mktemp("tok"))


def _my_messages(export: Path) -> dict[str, str]:
    messages, _ = read_export(export)
    return {m.id: m.content for m in messages if m.author.name == "alex" and m.type == "Default"}


def _rows(path: Path) -> list[dict]:
    return json.loads(path.read_text())


def test_only_my_words_are_assistant_turns_and_each_is_trained_exactly_once(export, tokenizer):
    renderer = load_renderer(tokenizer)
    # Without de-duplication every one of my Default messages is eligible.
    result = build_dataset([export], ["alex"], BuildConfig(cleaning=CleaningConfig(dedupe=False)), renderer)
    mine = _my_messages(export)
    samples = result.train + result.held_out
    trained = Counter(i for s in samples for i in s.my_message_ids)
    assert set(trained) == set(mine)
    assert set(trained.values()) == {1}
    my_texts = set(mine.values())
    for sample in samples:
        for message in sample.messages:
            if message["role"] == "assistant":
                # Bursts are joined by newlines: every line is one of my own messages.
                assert all(line in my_texts for line in message["content"].split("\n")), message
    # Sam writes capitalised sentences ending in '.', alex never does: none leaked into assistant turns.
    assistant_text = " ".join(m["content"] for s in samples for m in s.messages if m["role"] == "assistant")
    assert "Honestly," not in assistant_text and "That makes sense." not in assistant_text
    assert result.report()["samples"]["dropped_my_turns"] == {}


def test_every_row_fits_the_cutoff_so_the_webui_drops_nothing(export, tokenizer, tmp_path):
    from transformers import AutoTokenizer

    cutoff = 80  # small, to force packing limits and context trimming
    renderer = load_renderer(tokenizer)
    settings = BuildConfig(dataset=DatasetConfig(cutoff_len=cutoff, context_turns=8))
    result = build_dataset([export], ["alex"], settings, renderer)
    written = write_build(result, settings, tmp_path, "echo")
    hf = AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
    rows = _rows(written.train) + _rows(written.eval)
    # The webui trainer's rule (modules/training.py tokenize_conversation): rows whose
    # apply_chat_template(messages, tokenize=True) is longer than cutoff_len are dropped.
    lengths = [len(hf.apply_chat_template(r["messages"], tokenize=True, return_dict=False)) for r in rows]
    assert max(lengths) <= cutoff
    assert sum(length > cutoff for length in lengths) == 0
    assert result.report()["samples"]["trimmed_context"] > 0  # the small cutoff did bite


def test_report_counts_add_up(export):
    result = build_dataset([export], ["alex"], BuildConfig(), load_renderer())
    report = result.report()
    cleaning = report["cleaning"]
    assert cleaning["total"] == cleaning["kept"] + sum(cleaning["dropped"].values())
    assert cleaning["dropped"]["system"] == 1
    samples = report["samples"]
    trained = sum(len(s.my_message_ids) for s in result.train + result.held_out)
    assert trained == cleaning["kept_mine"]
    assert samples["train"] + samples["eval"] == samples["samples"]
    assert sum(b["count"] for b in samples["token_histogram"]) == samples["samples"]
    assert {a["name"]: a["me"] for a in report["authors"]} == {"alex": True, "Sam": False}
    assert 0.4 < report["my_share"] < 0.7
    assert not samples["exact_tokens"] and "estimate" in samples["tokenizer"]


def test_held_out_set_is_the_latest_conversations(export):
    result = build_dataset([export], ["alex"], BuildConfig(dataset=DatasetConfig(eval_fraction=0.2)), load_renderer())
    last_train = max(result.conversations[s.conversation].start for s in result.train)
    first_eval = min(result.conversations[s.conversation].start for s in result.held_out)
    assert last_train < first_eval
    share = sum(len(s.my_message_ids) for s in result.held_out) / sum(
        len(s.my_message_ids) for s in result.train + result.held_out
    )
    # The goal is 20 % of my turns (bursts count once), so 15-35 % of my messages.
    assert 0.15 <= share < 0.35


def test_written_files_follow_the_webui_dataset_rules(export, tmp_path):
    settings = BuildConfig()
    result = build_dataset([export], ["alex"], settings, load_renderer())
    written = write_build(result, settings, tmp_path, "alex-echo")
    folder = tmp_path / "training" / "datasets"
    assert written.train == folder / "alex-echo.json" and written.eval == folder / "alex-echo-eval.json"
    for path in (written.train, written.eval):
        rows = _rows(path)
        assert isinstance(rows, list) and rows and "messages" in rows[0]
        for row in rows:
            roles = [m["role"] for m in row["messages"]]
            assert set(roles) <= {"system", "user", "assistant"}
            assert roles[-1] == "assistant" and roles[0] in ("system", "user")
    # The sidecar is not a *.json file, so the webui's dataset dropdowns do not list it.
    assert sorted(p.name for p in folder.glob("*.json")) == ["alex-echo-eval.json", "alex-echo.json"]
    meta = json.loads(written.sidecar.read_text())
    assert meta["settings"]["dataset"]["cutoff_len"] == 512
    assert meta["report"]["samples"]["train"] == len(_rows(written.train))


@pytest.mark.skipif(not os.environ.get("DISCORD_ECHO_WEBUI"), reason="set DISCORD_ECHO_WEBUI to a webui checkout")
def test_a_real_webui_lists_the_dataset(export, tmp_path):
    webui = Path(os.environ["DISCORD_ECHO_WEBUI"])
    python = os.environ.get("DISCORD_ECHO_WEBUI_PYTHON", sys.executable)
    settings = BuildConfig()
    written = write_build(build_dataset([export], ["alex"], settings, load_renderer()), settings, tmp_path, "echo")
    code = (
        "import sys; sys.argv = ['server.py']; from modules.utils import get_chat_datasets; "
        f"print(get_chat_datasets({str(written.train.parent)!r}))"
    )
    out = subprocess.run([python, "-c", code], cwd=webui, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    listed = out.stdout.strip().splitlines()[-1]
    assert "'echo'" in listed and "'echo-eval'" in listed and "discord_echo" not in listed


def test_existing_datasets_are_never_replaced_without_the_flag(export, tmp_path):
    settings = BuildConfig()
    result = build_dataset([export], ["alex"], settings, load_renderer())
    written = write_build(result, settings, tmp_path, "mine")
    before = written.train.read_bytes()
    with pytest.raises(FileExistsRefusedError, match=r"mine\.json already exists"):
        write_build(result, settings, tmp_path, "mine")
    assert written.train.read_bytes() == before
    write_build(result, settings, tmp_path, "mine", overwrite=True)


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/b", "CON", "bad\x00name", "", "dot.", "mine-eval"])
def test_unsafe_dataset_names_are_refused(export, tmp_path, name):
    settings = BuildConfig()
    result = build_dataset([export], ["alex"], settings, load_renderer())
    with pytest.raises(InvalidNameError):
        write_build(result, settings, tmp_path, name)
    assert not (tmp_path / "training").exists() or not any((tmp_path / "training").rglob("*.json"))


def test_legacy_target_writes_instruction_rows_and_format_files(export, tmp_path):
    settings = BuildConfig()
    result = build_dataset([export], ["alex"], settings, load_renderer())
    written = write_build(result, settings, tmp_path, "old", target="legacy")
    rows = _rows(written.train)
    assert set(rows[0]) == {"instruction", "output", "system"}
    # One row per reply: each of my replies is an output once, as in the chat form.
    replies = [m["content"] for s in result.train for m in s.messages if m["role"] == "assistant"]
    assert [r["output"] for r in rows] == replies
    formats = {p.name: json.loads(p.read_text()) for p in written.formats}
    assert set(formats) == {f"discord-echo-{f}.json" for f in ("llama2-chat", "alpaca", "chatml", "mistral", "llama3")}
    # The old trainer picks the format entry whose keyset equals the row's non-empty string keys.
    for fmt in formats.values():
        template = fmt[",".join(sorted(rows[0]))]
        filled = template
        for key, value in rows[0].items():
            filled = filled.replace(f"%{key}%", value)
        assert "%" not in filled.replace(rows[0]["output"], "").replace(rows[0]["instruction"], "")
        assert rows[0]["output"] in filled


def test_nothing_of_mine_left_is_a_clear_error(export):
    with pytest.raises(EmptyDatasetError, match="no training samples left after cleaning"):
        build_dataset(
            [export], ["alex"], BuildConfig(cleaning=CleaningConfig(exclude_channels=("Sam",))), load_renderer()
        )


def test_replacing_a_dataset_without_held_out_rows_removes_the_old_held_out_file(export, tmp_path):
    settings = BuildConfig()
    written = write_build(build_dataset([export], ["alex"], settings, load_renderer()), settings, tmp_path, "e")
    assert written.eval is not None and written.eval.exists()
    no_eval = BuildConfig(dataset=DatasetConfig(eval_fraction=0))
    again = write_build(
        build_dataset([export], ["alex"], no_eval, load_renderer()), no_eval, tmp_path, "e", overwrite=True
    )
    assert again.eval is None and not written.eval.exists()


def test_pseudonyms_reach_persona_prefixes_and_quotes_too(export):
    from discord_echo.dataset.privacy.scrubber import PrivacyConfig

    settings = BuildConfig(privacy=PrivacyConfig(names=True), dataset=DatasetConfig(name_prefix="always"))
    result = build_dataset([export], ["alex"], settings, load_renderer())
    text = json.dumps([s.messages for s in result.train + result.held_out])
    assert "Sam" not in text and "sam.writes" not in text
    assert "Person1" in result.system_prompt and "Person1: " in text


def test_the_report_records_tokenizer_and_template_as_fields(export, tokenizer, tmp_path):
    settings = BuildConfig()
    exact = build_dataset([export], ["alex"], settings, load_renderer(tokenizer))
    meta = json.loads(write_build(exact, settings, tmp_path, "with-tok").sidecar.read_text())
    assert (meta["report"]["tokenizer"], meta["report"]["template"]) == (str(tokenizer), "Chat Template")
    estimated = build_dataset([export], ["alex"], settings, load_renderer())
    assert (estimated.report()["tokenizer"], estimated.report()["template"]) == (None, None)
