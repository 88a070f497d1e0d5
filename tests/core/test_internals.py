"""The one reach below peft's public API (core/peft_internals.py) still does what peft's own API does.

The comparer switches the adapter off by flipping each LoRA layer's private ``_disable_adapters`` flag
instead of entering ``PeftModel.disable_adapter()`` (which walks every parameter and toggles
``requires_grad`` each time). These tests run a tiny random Llama with a LoRA whose weights are not zero, so
adapter on and off give different logits, and check that the flag route gives exactly the logits of peft's
public context, that the public context sets the very same flag, and that the module stays light. When a
peft upgrade breaks one of them, the message says what to change.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("torch")
peft = pytest.importorskip("peft")

import torch  # noqa: E402

from discord_echo.core.peft_internals import DISABLE_FLAG, adapters_off, tuner_layers  # noqa: E402
from discord_echo.train.tiny_models import build_tiny_model  # noqa: E402

UPGRADE = (
    f"peft {peft.__version__} changed an internal that discord_echo/core/peft_internals.py relies on; "
    "update tuner_layers/adapters_off there (or drop them so the comparer uses the public disable_adapter())"
)


@pytest.fixture(scope="module")
def lora(tmp_path_factory):
    """A tiny Llama (from disk, float32) with a LoRA on every linear layer, B not zero, in eval mode."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = build_tiny_model(tmp_path_factory.mktemp("internals") / "model")
    base = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)
    torch.manual_seed(0)
    # init_lora_weights=False: random A and B, so the adapter changes the logits from the first step.
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0, init_lora_weights=False)
    model = get_peft_model(base, config).eval()
    ids = torch.tensor([[1, 5, 9, 14, 30, 2, 7]])
    return model, ids


def logits(model, ids):
    with torch.inference_mode():
        return model(input_ids=ids).logits


def lora_layers(model) -> list:
    # Found without core/peft_internals.py: the modules that hold LoRA weights.
    return [m for m in model.modules() if hasattr(m, "lora_A") and len(m.lora_A) > 0]


def test_base_tuner_layer_is_where_tuner_layers_imports_it_from():
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError as exc:
        pytest.fail(f"peft.tuners.tuners_utils.BaseTunerLayer is gone ({exc}): {UPGRADE}")
    assert isinstance(BaseTunerLayer, type)


def test_every_lora_layer_carries_the_private_flag_the_comparer_flips(lora):
    model, _ = lora
    expected = lora_layers(model)
    assert len(expected) == 14, "2 decoder layers x 7 projections (q, k, v, o, gate, up, down)"
    for layer in expected:
        assert getattr(layer, DISABLE_FLAG, None) is False, f"{type(layer).__name__} has no {DISABLE_FLAG}: {UPGRADE}"
    found = tuner_layers(model)
    assert found, f"tuner_layers found no peft layer: {UPGRADE}"
    assert {id(m) for m in found} == {id(m) for m in expected}


def test_peft_public_disable_adapter_sets_the_same_flag(lora):
    """If peft's own switch stops using the flag, flipping it is no longer the same switch."""
    model, _ = lora
    layers = tuner_layers(model)
    with model.disable_adapter():
        assert all(getattr(m, DISABLE_FLAG) is True for m in layers), f"disable_adapter() no longer sets it: {UPGRADE}"
        assert tuner_layers(model) == [], "an already disabled model must take the public route"
    assert all(getattr(m, DISABLE_FLAG) is False for m in layers)


def test_the_flag_route_changes_logits_exactly_like_peft_public_disable_adapter(lora):
    model, ids = lora
    tuned = logits(model, ids)
    with model.disable_adapter():
        public = logits(model, ids)
    with adapters_off(model, tuner_layers(model)):
        private = logits(model, ids)
    assert not torch.allclose(tuned, public, atol=1e-3), "the test LoRA must change the logits"
    assert torch.equal(private, public), f"flipping {DISABLE_FLAG} no longer gives the base logits: {UPGRADE}"
    assert torch.equal(logits(model, ids), tuned), "on exit the adapter is on again"


def test_without_layers_the_public_disable_adapter_is_used(lora):
    model, ids = lora
    with model.disable_adapter():
        public = logits(model, ids)
    layers = tuner_layers(model)
    with adapters_off(model, []):
        assert all(getattr(m, DISABLE_FLAG) is True for m in layers)  # peft's own context is active
        assert torch.equal(logits(model, ids), public)
    assert all(getattr(m, DISABLE_FLAG) is False for m in layers)


def test_the_flag_is_restored_when_the_body_raises_and_weights_stay_as_they_were(lora):
    model, _ = lora
    layers = tuner_layers(model)
    grads = [p.requires_grad for p in model.parameters()]
    with pytest.raises(RuntimeError, match="boom"), adapters_off(model, layers):
        assert all(getattr(m, DISABLE_FLAG) is True for m in layers)
        raise RuntimeError("boom")
    assert all(getattr(m, DISABLE_FLAG) is False for m in layers)
    assert [p.requires_grad for p in model.parameters()] == grads, "the flag route never touches requires_grad"


def test_importing_the_internals_module_loads_no_peft_or_torch():
    code = (
        "import sys\n"
        "import discord_echo.core.peft_internals\n"
        "print(sorted(m for m in ('peft', 'torch', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
