"""Benchmark: a base↔tuned switch on one loaded model vs unloading and reloading to get the other one.

    .venv/bin/python benchmarks/compare.py [--switches 200] [--reloads 5] [--model PATH --adapter PATH] [--threads 1]

Without ``--model``, builds the tests' tiny random-weight Llama and a LoRA on every linear layer with random
(non-zero) weights: the switch cost does not depend on what the adapter learned. Then times, in one process,
after a burn-in pass of each:

* switch: ``Comparer.adapter(False/True)`` (the LoRA layers' off flag) alternately, each followed by a
  forward pass of one token so the switched model is really used (``switch_seconds`` below);
* reload: what the switch replaces: drop the model, load the base from disk, apply the adapter, the same
  one-token forward (``reload_seconds`` below).

Prints both mean times; the last line reads ``ratio=<switch/reload>`` (issue target: at most 0.01).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from discord_echo.evaluate.comparer import Comparer
from discord_echo.evaluate.model_loading import adapter_template, apply_adapter, load_base_model, load_tokenizer

MESSAGES = [
    {"role": "system", "content": "You are alex, chatting on Discord with Sam. Reply the way alex writes."},
    {"role": "user", "content": "Hey! How did the concert go?"},
]


def random_adapter(model_dir: Path, out: Path) -> Path:
    """A LoRA (r8, all-linear) with random weights, saved like the trainers save one."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True)
    config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(base, config).save_pretrained(str(out))
    return out


def switch_seconds(comparer: Comparer, messages: Sequence[dict], switches: int = 50) -> float:
    """Mean seconds of one base<->tuned switch, each followed by a one-token forward so the switch is used."""
    import torch

    # The prompt's last token: the same one-token forward reload_seconds times.
    ids = torch.tensor([comparer.prompt_ids(messages)[-1:]], device=comparer._device)
    started = time.perf_counter()
    for index in range(switches):
        with comparer.adapter(index % 2 == 1), torch.inference_mode():
            comparer.model(input_ids=ids)
    return (time.perf_counter() - started) / switches


def reload_seconds(base: str | Path, adapter: str | Path, messages: Sequence[dict], repeats: int = 3) -> float:
    """Mean seconds of what a base<->tuned switch costs without disabling the adapter in place: drop the model,
    load the base from disk, apply the adapter, run one forward of one token (the prompt's last, as
    ``switch_seconds`` does)."""
    import torch

    tokenizer = load_tokenizer(base)
    chat_template = adapter_template(Path(adapter), tokenizer)[0]
    ids = tokenizer.apply_chat_template(
        list(messages), chat_template=chat_template, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    token = list(ids["input_ids"] if isinstance(ids, dict) else ids)[-1:]
    model = None
    started = time.perf_counter()
    for _ in range(repeats):
        del model
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        model = apply_adapter(load_base_model(base, adapter), adapter).eval()
        with torch.inference_mode():
            model(input_ids=torch.tensor([token], device=next(model.parameters()).device))
    return (time.perf_counter() - started) / repeats


def flip_seconds(comparer: Comparer, switches: int) -> float:
    """Mean seconds of the switch alone: entering and leaving the adapter-off state, no forward."""
    started = time.perf_counter()
    for _ in range(switches):
        with comparer.adapter(False):
            pass
    return (time.perf_counter() - started) / switches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--switches", type=int, default=200, help="base<->tuned switches timed")
    parser.add_argument("--reloads", type=int, default=5, help="unload + reload + apply cycles timed")
    parser.add_argument("--model", type=Path, help="base model folder (default: the tiny test model)")
    parser.add_argument("--adapter", type=Path, help="LoRA folder for --model")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (0: torch's default). One by default: a one-token forward of the tiny model is "
        "too small to split, and on a busy machine extra threads time the scheduler, not the switch.",
    )
    args = parser.parse_args(argv)
    if bool(args.model) != bool(args.adapter):
        parser.error("--model and --adapter go together")

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            model, adapter = args.model, args.adapter
        else:
            from discord_echo.train.tiny_models import build_tiny_model

            model = build_tiny_model(Path(tmp) / "model")
            adapter = random_adapter(model, Path(tmp) / "lora")
        comparer = Comparer.load(model, adapter)
        switch_seconds(comparer, MESSAGES, switches=10)  # burn-in
        switch = switch_seconds(comparer, MESSAGES, switches=args.switches)
        flips = flip_seconds(comparer, args.switches)
        reload_seconds(model, adapter, MESSAGES, repeats=1)  # burn-in (imports, file cache)
        reload = reload_seconds(model, adapter, MESSAGES, repeats=args.reloads)

    print(f"model={model} adapter={adapter} threads={args.threads or 'default'}")
    print(f"switch (disable/enable adapter, 1-token forward): {switch * 1e3:.3f} ms, mean of {args.switches}")
    print(f"switch alone (adapter off and on again, no forward): {flips * 1e3:.3f} ms")
    print(f"reload (unload, load base, apply adapter, 1-token forward): {reload * 1e3:.1f} ms, mean of {args.reloads}")
    print(f"ratio={switch / reload:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
