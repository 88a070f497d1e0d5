"""The merged model answers as base + adapter does: same greedy replies, same template, same stop tokens.

A LoRA with non-zero random weights (peft ``init_lora_weights=False``) on the tiny random Llama stands in for a
trained one: merging must fold any update in exactly. The merged folder is loaded the way any loader does
(``AutoModelForCausalLM``/``AutoTokenizer`` on the folder, its own chat template and generation config).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from discord_echo.core.safe_files import FileExistsRefusedError

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from discord_echo.evaluate.comparer import CompareConfig, Comparer  # noqa: E402
from discord_echo.evaluate.merge import merge_lora  # noqa: E402

PROMPTS = [
    [{"role": "user", "content": "hey how are you doing today?"}],
    [{"role": "system", "content": "You are alex."}, {"role": "user", "content": "Sam: wait fr??"}],
    [{"role": "user", "content": "lol"}, {"role": "assistant", "content": "idk"}, {"role": "user", "content": "ok"}],
]


@pytest.fixture(scope="module")
def random_lora(tiny_model, tmp_path_factory) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path_factory.mktemp("loras") / "random"
    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model), local_files_only=True)
    config = LoraConfig(r=8, lora_alpha=32, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(base, config).save_pretrained(str(folder))
    template = AutoTokenizer.from_pretrained(str(tiny_model), local_files_only=True).chat_template
    (folder / "training_prompt.json").write_text(json.dumps({"template_type": "chat_template", "template": template}))
    return folder


def test_merged_model_replies_equal_the_adapters(tiny_model, random_lora, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = merge_lora(tiny_model, random_lora, tmp_path / "merged")
    folder = result.folder
    assert (folder / "model.safetensors").is_file() and not (folder / "adapter_config.json").exists()
    model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert model.generation_config.eos_token_id == [tokenizer.eos_token_id, im_end]  # stops after my turn
    comparer = Comparer.load(tiny_model, random_lora)
    assert tokenizer.chat_template == comparer.chat_template
    settings = CompareConfig(greedy=True, max_new_tokens=24)
    differs_from_base = False
    for messages in PROMPTS:
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
        assert list(ids) == comparer.prompt_ids(messages)  # the same prompt, from the merged folder's own template
        with torch.inference_mode():
            out = model.generate(torch.tensor([list(ids)]), do_sample=False, max_new_tokens=24)
        merged_reply = tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True).strip()
        assert merged_reply == comparer.generate(messages, adapter=True, settings=settings)
        differs_from_base |= merged_reply != comparer.generate(messages, adapter=False, settings=settings)
        with torch.inference_mode(), comparer.adapter(True):
            merged_logits = model(torch.tensor([list(ids)])).logits
            adapter_logits = comparer.model(input_ids=torch.tensor([list(ids)])).logits
        assert torch.allclose(merged_logits, adapter_logits, atol=1e-4)
    assert differs_from_base, "the random LoRA changed nothing: the equality above would prove nothing"


def test_merge_refuses_an_existing_folder(tiny_model, random_lora, tmp_path):
    out = tmp_path / "merged"
    out.mkdir()
    with pytest.raises(FileExistsRefusedError):
        merge_lora(tiny_model, random_lora, out)
    assert merge_lora(tiny_model, random_lora, out, overwrite=True).folder == out
