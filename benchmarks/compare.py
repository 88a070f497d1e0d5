"""Benchmark: a base↔tuned switch on one loaded model vs unloading and reloading to get the other one.

    .venv/bin/python benchmarks/compare.py [--switches 200] [--reloads 5] [--model PATH --adapter PATH] [--threads 1]

Without ``--model``, builds the tests' tiny random-weight Llama and a LoRA on every linear layer with random
(non-zero) weights: the switch cost does not depend on what the adapter learned. Then times, in one process,
after a burn-in pass of each:

* switch: ``Comparer.adapter(False/True)`` (peft ``disable_adapter()``) alternately, each followed by a
  forward pass of one token so the switched model is really used (``compare.switch_seconds``);
* reload: what the switch replaces: drop the model, load the base from disk, apply the adapter, the same
  one-token forward (``adapter_loading.reload_seconds``).

Prints both mean times; the last line reads ``ratio=<switch/reload>`` (issue target: at most 0.01).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from discord_echo.evaluate.comparer import Comparer, switch_seconds
from discord_echo.evaluate.model_loading import reload_seconds

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
