"""Compare: one loaded model, adapter off = the base model, adapter on = the echo; numbers that show it echoes me.

One tiny random-weight Llama is trained (with the real standalone host) on the bundled sample's two-speaker
chat: alex (me: lowercase, emoji, no full stops) vs Sam (capitalised sentences). Then, on the held-out
conversations: my replies must get more likely with the adapter, and more so than Sam's.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields, replace
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

import torch  # noqa: E402
from tiny_models import build_tiny_model  # noqa: E402

from discord_echo.core.errors import ConfigError, HostUnavailableError  # noqa: E402
from discord_echo.core.safe_files import FileExistsRefusedError  # noqa: E402
from discord_echo.dataset.pipeline import BuildConfig, build_dataset, write_build  # noqa: E402
from discord_echo.evaluate.comparer import CompareConfig, Comparer  # noqa: E402
from discord_echo.evaluate.metrics import held_out_pairs, their_samples  # noqa: E402
from discord_echo.evaluate.report import REPORT_NAME, evaluate, write_report  # noqa: E402
from discord_echo.templates.chat import load_renderer  # noqa: E402
from discord_echo.templates.trainer_rows import tokenize_row  # noqa: E402
from discord_echo.train import driver as training  # noqa: E402
from discord_echo.train.profiles import PROFILES  # noqa: E402
from discord_echo.train.standalone.host import StandaloneHost  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "samples"))
import make_sample  # noqa: E402

# A tiny model learns only with a high learning rate; dropout off and no checkpoints keep the run short.
TINY_RUN = replace(
    PROFILES["CPU (no GPU)"],
    epochs=2.0,
    learning_rate=1e-2,
    lora_dropout=0.0,
    micro_batch_size=4,
    batch_size=4,
    save_steps=0,
    eval_steps=0,
)


@pytest.fixture(scope="module")
def echo(tmp_path_factory) -> dict:
    """Model, dataset build and trained LoRA, made once: ~10-30 s on 2 CPU cores."""
    root = tmp_path_factory.mktemp("echo")
    model = build_tiny_model(root / "model")
    export = root / "dm.json"
    export.write_text(json.dumps(make_sample.build(seed=7, sessions=40)), encoding="utf-8")
    user_data = root / "user_data"
    result = build_dataset([export], ["alex"], BuildConfig(), load_renderer(model))
    written = write_build(result, BuildConfig(), user_data, "echo")
    request = training.request_from_user_data(user_data, "echo", str(model), "echo", TINY_RUN)
    trained = training.train(request, StandaloneHost())
    comparer = Comparer.load(model, trained.adapter_dir)
    return {"model": model, "result": result, "written": written, "adapter": trained.adapter_dir, "cmp": comparer}


def test_tuned_lowers_perplexity_of_my_replies_more_than_of_theirs(echo):
    comparer, held_out = echo["cmp"], echo["result"].held_out
    theirs = their_samples(held_out)
    assert held_out and theirs
    mine_base, mine_tuned = comparer.perplexity(held_out, False), comparer.perplexity(held_out, True)
    their_base, their_tuned = comparer.perplexity(theirs, False), comparer.perplexity(theirs, True)
    assert mine_tuned < mine_base
    # Improvement as ln(base/tuned): nats per token removed by the adapter.
    assert mine_base / mine_tuned > their_base / their_tuned


def test_adapter_off_gives_the_base_models_logits_and_on_differs(echo):
    from transformers import AutoModelForCausalLM

    comparer = echo["cmp"]
    messages = echo["result"].held_out[0].messages
    base = AutoModelForCausalLM.from_pretrained(str(echo["model"]), local_files_only=True).eval()
    with torch.inference_mode():
        expected = base(input_ids=torch.tensor([_row_ids(comparer, messages)])).logits[0]
    assert torch.allclose(comparer.logits(messages, adapter=False), expected, atol=1e-5)
    assert not torch.allclose(comparer.logits(messages, adapter=True), expected, atol=1e-3)
    # And the switch is not sticky: off again gives the base logits again.
    assert torch.allclose(comparer.logits(messages, adapter=False), expected, atol=1e-5)


def _row_ids(comparer: Comparer, messages: list[dict]) -> list[int]:
    out = comparer.tokenizer.apply_chat_template(
        messages, chat_template=comparer.chat_template, tokenize=True, return_dict=False
    )
    return list(out)


@pytest.mark.parametrize("settings", [CompareConfig(seed=3), CompareConfig(greedy=True)], ids=["sampled", "greedy"])
def test_same_seed_same_reply_and_streaming_ends_with_it(echo, settings):
    comparer = echo["cmp"]
    prompt = held_out_pairs(echo["result"].held_out)[0].prompt
    for adapter in (False, True):
        first = comparer.generate(prompt, adapter, replace(settings, max_new_tokens=12))
        again = comparer.generate(prompt, adapter, replace(settings, max_new_tokens=12))
        streamed = list(comparer.stream(prompt, adapter, replace(settings, max_new_tokens=12)))
        assert first == again
        assert streamed and streamed[-1] == first
        assert all(isinstance(s, str) for s in streamed)


def test_a_closed_stream_releases_the_model(echo):
    comparer = echo["cmp"]
    prompt = held_out_pairs(echo["result"].held_out)[0].prompt
    stream = comparer.stream(prompt, True, CompareConfig(max_new_tokens=200, seed=1))
    next(stream)
    stream.close()
    # The next call waits for the cancelled generation to stop, then runs normally.
    assert isinstance(comparer.generate(prompt, False, CompareConfig(max_new_tokens=4)), str)


def test_batch_fills_n_rows_with_real_base_and_tuned(echo):
    pairs = held_out_pairs(echo["result"].held_out)
    rows = echo["cmp"].batch(pairs, 3, CompareConfig(max_new_tokens=8, seed=5))
    assert len(rows) == 3
    assert rows[0].real == pairs[0].reply and rows[-1].real == pairs[-1].reply
    assert all(r.prompt and r.real for r in rows)
    assert all(isinstance(r.base, str) and isinstance(r.tuned, str) for r in rows)


def test_batched_greedy_replies_equal_the_one_at_a_time_ones_token_for_token(echo):
    comparer = echo["cmp"]
    pairs = held_out_pairs(echo["result"].held_out)[:6]
    prompts = [comparer.prompt_ids(pair.prompt) for pair in pairs]
    assert len({len(p) for p in prompts}) > 1  # prompts of different lengths: real left padding
    settings = CompareConfig(greedy=True, max_new_tokens=12)
    for adapter in (False, True):
        one = [comparer._generate_ids(p, adapter, settings) for p in prompts]
        assert comparer._generate_rows(prompts, adapter, settings) == one
        texts = comparer.generate_many([pair.prompt for pair in pairs], adapter, settings, batch_size=4)
        assert texts == [comparer.generate(pair.prompt, adapter, settings) for pair in pairs]
    rows = comparer.batch(pairs, len(pairs), settings)
    assert [r.tuned for r in rows] == [comparer.generate(pair.prompt, True, settings) for pair in pairs]
    assert [r.base for r in rows] == [comparer.generate(pair.prompt, False, settings) for pair in pairs]


def test_a_row_that_stops_early_in_a_batch_ends_at_its_stop_token(echo):
    comparer = echo["cmp"]
    pairs = held_out_pairs(echo["result"].held_out)[:6]
    prompts = [comparer.prompt_ids(pair.prompt) for pair in pairs]
    # The tuned model learned to end my turn: with room to spare some rows stop before others.
    settings = CompareConfig(greedy=True, max_new_tokens=40)
    one = [comparer._generate_ids(p, True, settings) for p in prompts]
    assert any(len(ids) < 40 for ids in one) and any(ids[-1] in comparer._stop_ids for ids in one)
    assert comparer._generate_rows(prompts, True, settings) == one


def test_sampled_batches_are_seeded_and_batch_size_1_gives_generates_replies(echo):
    comparer = echo["cmp"]
    pairs = held_out_pairs(echo["result"].held_out)[:3]
    settings = CompareConfig(seed=4, max_new_tokens=8)
    prompts = [pair.prompt for pair in pairs]
    assert comparer.generate_many(prompts, True, settings) == comparer.generate_many(prompts, True, settings)
    single = comparer.generate_many(prompts, True, settings, batch_size=1)
    assert single == [comparer.generate(p, True, settings) for p in prompts]
    with pytest.raises(ConfigError, match="batch_size"):
        comparer.generate_many(prompts, True, settings, batch_size=0)


def test_scores_from_the_kept_logits_equal_the_full_forwards(echo):
    """``row_scores`` projects only the scored positions (``logits_to_keep``); the full logits give the same."""
    import torch.nn.functional as F

    comparer = echo["cmp"]
    assert comparer._keeps_logits
    samples = echo["result"].held_out[:5]
    fast = comparer.score(samples, True, batch_size=3)
    nll, count = 0.0, 0
    for sample in samples:
        row = _row_ids(comparer, sample.messages)
        labels = torch.tensor(tokenize_row(comparer.tokenizer, sample.messages, comparer.chat_template)["labels"])
        logits = comparer.logits(sample.messages, adapter=True)
        assert logits.shape[0] == len(row)
        nll += F.cross_entropy(logits[:-1], labels[1:], ignore_index=-100, reduction="sum").item()
        count += int((labels[1:] != -100).sum())
    assert fast.tokens == count > 0
    assert fast.nll == pytest.approx(nll, rel=1e-5)


def test_evaluate_reports_and_saves_next_to_the_lora(echo):
    settings = CompareConfig(max_new_tokens=8)
    report = evaluate(echo["cmp"], echo["result"].held_out, "alex", settings, n=2)
    assert report.mine.tuned < report.mine.base
    assert report.theirs is not None and report.mine.gain > report.theirs.gain
    assert set(report.style) == {"real", "base", "tuned"} and len(report.rows) == 2
    assert not [w for w in report.warnings if w.kind in ("no_gain", "not_specific", "template_mismatch")]
    path = write_report(echo["adapter"], report)
    assert path == echo["adapter"] / REPORT_NAME and "| yours |" in path.read_text(encoding="utf-8")
    write_report(echo["adapter"], report)  # ours: rewritten
    path.write_text("my own notes\n", encoding="utf-8")
    with pytest.raises(FileExistsRefusedError):
        write_report(echo["adapter"], report)
    assert path.read_text(encoding="utf-8") == "my own notes\n"
    path.unlink()


def test_a_different_template_is_reported_as_a_mismatch(echo):
    templates = REPO / "tests" / "data" / "instruction-templates"
    other = Comparer.load(echo["model"], echo["adapter"], template="Alpaca", templates_dir=templates)
    report = evaluate(other, echo["result"].held_out[:1], "alex", CompareConfig(max_new_tokens=2), n=1)
    kinds = [w.kind for w in report.warnings]
    assert "template_mismatch" in kinds
    assert other.template_name == "Alpaca" and echo["cmp"].template_name == "Chat Template"


def test_switch_costs_far_less_than_a_reload(echo):
    import importlib.util

    # benchmarks/ is not a package: its timers are imported by path.
    spec = importlib.util.spec_from_file_location("compare_benchmark", REPO / "benchmarks" / "compare.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    messages = held_out_pairs(echo["result"].held_out)[0].prompt
    switch = benchmark.switch_seconds(echo["cmp"], messages, switches=20)
    reload = benchmark.reload_seconds(echo["model"], echo["adapter"], messages, repeats=1)
    assert switch * 10 < reload


def test_a_model_without_adapter_is_refused(echo):
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(echo["model"]), local_files_only=True)
    with pytest.raises(HostUnavailableError, match="no LoRA"):
        Comparer(base, echo["cmp"].tokenizer, echo["cmp"].chat_template)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"max_new_tokens": 5000}, "max_new_tokens"),
        ({"temperature": 0}, "temperature"),
        ({"temperature": 3.0}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
    ],
)
def test_compare_settings_refuse_bad_values(changes, field):
    with pytest.raises(ConfigError, match=field):
        CompareConfig(**changes)


def test_compare_settings_fields_have_label_and_help():
    for f in fields(CompareConfig):
        assert f.metadata.get("label") and f.metadata.get("help"), f.name
    assert CompareConfig() == CompareConfig(**{f.name: f.default for f in fields(CompareConfig)})


def test_the_public_disable_adapter_path_gives_the_same_base_logits(echo):
    comparer = echo["cmp"]
    messages = echo["result"].held_out[0].messages
    fast = comparer.logits(messages, adapter=False)
    layers, comparer._layers = comparer._layers, []  # as with a peft without the per-layer flag
    try:
        assert torch.allclose(comparer.logits(messages, adapter=False), fast, atol=1e-6)
        assert not torch.allclose(comparer.logits(messages, adapter=True), fast, atol=1e-3)
    finally:
        comparer._layers = layers


def test_evaluate_needs_held_out_replies(echo):
    with pytest.raises(ConfigError, match="held-out"):
        evaluate(echo["cmp"], [], "alex", CompareConfig())


def test_padding_in_batches_does_not_change_the_score(echo):
    held_out = echo["result"].held_out
    one, four = echo["cmp"].score(held_out, True, batch_size=1), echo["cmp"].score(held_out, True, batch_size=4)
    assert one.tokens == four.tokens > 0
    assert one.nll == pytest.approx(four.nll, rel=1e-4)


def test_comparing_on_a_gpu_loads_the_base_in_4bit_like_training():
    """The CUDA path cannot run here (no GPU): only which loading arguments are chosen is checked."""
    import torch

    from discord_echo.evaluate.model_loading import compare_load_kwargs

    assert compare_load_kwargs(cuda=False, bitsandbytes=False, bf16=False) == {"dtype": torch.float32}
    gpu = compare_load_kwargs(cuda=True, bitsandbytes=True, bf16=True)
    quant = gpu["quantization_config"]
    assert quant.load_in_4bit and quant.bnb_4bit_quant_type == "nf4" and quant.bnb_4bit_use_double_quant
    assert gpu["dtype"] == torch.bfloat16 and gpu["device_map"] == {"": 0}
    no_bnb = compare_load_kwargs(cuda=True, bitsandbytes=False, bf16=False)
    assert "quantization_config" not in no_bnb and no_bnb["dtype"] == torch.float16


def _loaded_with(monkeypatch, adapter: Path) -> dict:
    """The ``from_pretrained`` arguments Compare picks for ``adapter`` on a CUDA GPU with bitsandbytes and bf16.

    There is no GPU here: CUDA, bitsandbytes and bf16 are injected (mocked) and the load itself is replaced by
    a recorder, so only the choice of quantization and dtype is checked, as for the trainer's 4-bit path.
    """
    from transformers import AutoModelForCausalLM

    from discord_echo.evaluate.model_loading import load_base_model

    seen: dict = {}

    def record(name, local_files_only, **kwargs):
        seen.update(kwargs)
        return "model"

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", record)
    assert load_base_model("some/base", adapter, cuda=True, bitsandbytes=True, bf16=True) == "model"
    return seen


def test_compare_loads_the_base_as_the_loras_own_profile_trained_it(echo, monkeypatch, caplog):
    from discord_echo.evaluate.model_loading import trained_settings

    # The echo LoRA was trained with the CPU profile (no 4-bit, float32), not the 8 GB default.
    assert trained_settings(echo["adapter"]).settings == TINY_RUN and trained_settings(echo["adapter"]).note == ""
    with caplog.at_level("WARNING", logger="discord_echo"):
        kwargs = _loaded_with(monkeypatch, echo["adapter"])
    assert kwargs == {"dtype": torch.float32, "device_map": {"": 0}}  # no quantization_config: not 4-bit
    assert caplog.records == []


def test_compare_follows_a_gpu_profiles_4bit_choices(tmp_path, monkeypatch):
    settings = replace(PROFILES["12 GB (RTX 3060 12 GB, 4070)"], quant_type="fp4", double_quant=False)
    settings = replace(settings, compute_dtype="float16")
    (tmp_path / "training_parameters.json").write_text(json.dumps({"settings": settings.to_dict()}))
    kwargs = _loaded_with(monkeypatch, tmp_path)
    quant = kwargs["quantization_config"]
    assert quant.load_in_4bit and quant.bnb_4bit_quant_type == "fp4" and not quant.bnb_4bit_use_double_quant
    assert quant.bnb_4bit_compute_dtype == torch.float16 and kwargs["dtype"] == torch.float16


@pytest.mark.parametrize("parameters", [None, {"lora_name": "echo", "lora_rank": 32, "format": "Chat Template"}])
def test_without_our_settings_compare_uses_the_default_profile_and_says_so(tmp_path, monkeypatch, caplog, parameters):
    """No training_parameters.json, or the webui's own (its parameters say nothing about quantization)."""
    if parameters is not None:
        (tmp_path / "training_parameters.json").write_text(json.dumps(parameters))
    with caplog.at_level("WARNING", logger="discord_echo"):
        kwargs = _loaded_with(monkeypatch, tmp_path)
    quant = kwargs["quantization_config"]  # the 8 GB profile: nf4, double quantization, bfloat16
    assert quant.bnb_4bit_quant_type == "nf4" and quant.bnb_4bit_use_double_quant and kwargs["dtype"] == torch.bfloat16
    assert "the default profile (8 GB (RTX 3060 Ti))" in caplog.text


def test_shared_prefixes_give_the_same_scores_replies_and_report(echo):
    """``sharing_prefixes``: scores and greedy replies from kept prompt caches equal those computed afresh."""
    from discord_echo.evaluate.echo_metrics import topicality
    from discord_echo.evaluate.metrics import pick

    comparer, held_out = echo["cmp"], echo["result"].held_out
    picked = pick(held_out_pairs(held_out), 6)
    prompts = [pair.prompt for pair in picked]
    settings = CompareConfig(greedy=True, max_new_tokens=12)
    fresh = {
        "scores": [comparer.score(held_out, adapter) for adapter in (False, True)],
        "replies": [comparer.generate_many(prompts, adapter, settings) for adapter in (False, True)],
    }
    fresh["topicality"] = topicality(comparer, prompts, fresh["replies"][1])
    with comparer.sharing_prefixes(prompts):
        scores = [comparer.score(held_out, adapter) for adapter in (False, True)]
        # Every picked prompt starts a held-out row, so scoring kept each one, base and tuned.
        assert len(comparer._prefixes.caches) == 2 * len({tuple(comparer.prompt_ids(p)) for p in prompts})
        replies = [comparer.generate_many(prompts, adapter, settings) for adapter in (False, True)]
        found = topicality(comparer, prompts, replies[1])
    assert comparer._prefixes is None  # freed on exit
    assert replies == fresh["replies"]
    assert replies[0] == [comparer.generate(p, False, settings) for p in prompts]
    for got, want in zip(scores, fresh["scores"], strict=True):
        assert got.tokens == want.tokens and got.nll == pytest.approx(want.nll, rel=1e-5)
    assert found.replies == fresh["topicality"].replies
    assert found.per_token == pytest.approx(fresh["topicality"].per_token, rel=1e-4, abs=1e-5)


def test_scores_sharing_a_start_or_repeated_equal_scores_one_row_at_a_time(echo):
    """``row_scores`` runs the start all rows share once and identical rows once; the scores stay the row's own."""
    comparer = echo["cmp"]
    samples = echo["result"].held_out[:4]
    rows = [tokenize_row(comparer.tokenizer, s.messages, comparer.chat_template) for s in samples]
    pairs = [(r["input_ids"], r["labels"]) for r in rows]
    pairs.append(pairs[0])  # a repeated row
    alone = [comparer.row_scores([pair], True)[0] for pair in pairs]
    together = comparer.row_scores(pairs, True, batch_size=3)
    assert [s.tokens for s in together] == [s.tokens for s in alone]
    assert [s.nll for s in together] == pytest.approx([s.nll for s in alone], rel=1e-5)
    assert together[0] == together[-1]


def test_prompts_prefilled_alone_give_the_padded_batchs_replies(echo, monkeypatch):
    """Without a plain cache to hand over, ``_generate_rows`` prefills the padded batch: same replies."""
    comparer = echo["cmp"]
    prompts = [comparer.prompt_ids(pair.prompt) for pair in held_out_pairs(echo["result"].held_out)[:5]]
    settings = CompareConfig(greedy=True, max_new_tokens=10)
    prefilled = comparer._generate_rows(prompts, True, settings)
    monkeypatch.setattr(comparer, "_prompt_cache", lambda prompts, adapter: None)
    assert comparer._generate_rows(prompts, True, settings) == prefilled
