"""The one module that reaches into peft below its public API; tests/core/test_internals.py guards it.

Why: comparing base and tuned replies switches the adapter off and on for every reply and every scored
batch. peft's public ``PeftModel.disable_adapter()`` context does that, but with side work each time: it
first walks every parameter (``get_model_status``), and each layer's ``enable_adapters`` toggles
``requires_grad`` on every adapter weight, 1-2.3 ms per switch even on the tiny test model, more than the
one-token forward it precedes (benchmarks/compare.py). The LoRA layers' forward reads only one flag,
``BaseTunerLayer._disable_adapters``, so flipping that flag on the layers, found once, is the same switch.

Both the flag and ``BaseTunerLayer``'s home, ``peft.tuners.tuners_utils``, are peft internals. If a peft
release drops or renames the flag, ``tuner_layers`` finds nothing and ``adapters_off`` uses the public
``disable_adapter()`` instead, so replies stay right, only slower; the tests fail loudly to say so. If it
moves ``BaseTunerLayer``, ``tuner_layers`` raises ImportError (as the comparer always did) and the tests
name this module as the one to change.

peft is imported inside functions only, so importing this module (and ``discord_echo``) stays light.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

DISABLE_FLAG = "_disable_adapters"  # the per-layer flag peft's LoRA forward reads (BaseTunerLayer)


def tuner_layers(model: Any) -> list[Any]:
    """The model's peft adapter layers, if all are enabled and carry the ``_disable_adapters`` flag; else [].

    [] (no layers, some already disabled, or a peft without the flag) tells ``adapters_off`` to use peft's
    public context.
    """
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer)]
    if not layers or not all(getattr(m, DISABLE_FLAG, None) is False for m in layers):
        return []  # already (partly) disabled, or a peft without the flag: use the public context
    return layers


@contextmanager
def adapters_off(model: Any, layers: Sequence[Any]) -> Iterator[None]:
    """Run the body with ``model``'s adapter off: the flag on ``layers``, else peft's ``disable_adapter()``.

    ``layers`` is what ``tuner_layers(model)`` returned, found once per model. With layers, each one's
    ``_disable_adapters`` is set for the body and cleared on exit, also when the body raises; with none,
    the model's public ``disable_adapter()`` context does the switch.
    """
    if not layers:
        with model.disable_adapter():
            yield
        return
    for layer in layers:
        setattr(layer, DISABLE_FLAG, True)
    try:
        yield
    finally:
        for layer in layers:
            setattr(layer, DISABLE_FLAG, False)
