"""Tiny, locally built Hugging Face artefacts: no download, no network.

Used by the tests (imported there as ``tiny_models``) and by the standalone app, which
builds the tiny model once on first run so the bundled sample can go from upload to a
trained adapter in minutes on a CPU, without fetching anything.

``build_tiny_tokenizer(folder)`` trains a byte-level BPE tokenizer in-process (the same family as
Llama 3, Qwen and GPT-2 tokenizers, with a much smaller vocabulary) on a fixed chatty corpus and saves
it as a folder that ``transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)`` loads.
Training is deterministic and takes well under a second.

A small vocabulary compresses worse than a real 32k-150k one, which makes this tokenizer a useful
"weak tokenizer" for checking that token estimates are conservative. Tiny random-weight models for
the trainer tests belong beside it (``build_tiny_<what>``), sharing ``TINY_SPECIAL_TOKENS``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from discord_echo.templates.chat import BUILTIN_CHATML

# Standard ChatML (what Qwen and many fine-tunes ship): the same text the renderer uses as its default.
CHATML = BUILTIN_CHATML

# ChatML markers, SentencePiece-style BOS/EOS/PAD/UNK, and Llama 3's header/turn markers so that a
# Llama-v3 instruction template also tokenizes its control strings as single tokens.
TINY_SPECIAL_TOKENS = [
    "<unk>",
    "<s>",
    "</s>",
    "<pad>",
    "<|im_start|>",
    "<|im_end|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]
TINY_VOCAB_SIZE = 2000

_CHAT_LINES = [
    "hey how are you doing today?",
    "lol yeah it was kinda wild 😅",
    "ngl i totally forgot about the exam",
    "omg yes!! so good 🎉🎉",
    "idk man it was mid tbh",
    "wait fr?? that's insane",
    "yeah im down 🙌 what time?",
    "sure thing 👍 here you go: https://example.com/docs/getting-started",
    "Thanks so much, you are the best ❤️ 😂 🔥 💀 🙏",
    "def greet(name):\n    return f'hello {name}!'\n",
    "for i in range(10):\n    print(i * 2)\n",
    "```python\nimport json\ndata = json.loads(text)\n```",
    "if (x > 0 && y < 10) { return [a, b]; }",
    "Ça va? Je suis très content de te voir! À demain, c'est génial.",
    "Привет, как дела? Всё хорошо, спасибо. Что ты делаешь сегодня?",
    "今日はいい天気ですね。明日も遊びましょう！",
    "你好，你今天怎么样？我很好，谢谢。",
    "system user assistant",
]

# Common chat words: sentences built from them teach the BPE whole words, as a real tokenizer knows
# common words, while rare words still split into pieces.
_WORD_LINES = (
    "i you he she we they it me my your our this that what when where why how who yes no ok okay lol lmao",
    "haha omg idk tbh ngl brb btw fr imo rn pls thx the a an and or but so if then because is are was",
    "were be been am do does did have has had will would can could should might must not dont cant wont",
    "im youre thats its just really very kinda pretty still already also too maybe about with from for to",
    "of in on at by up down out over after before again now today tomorrow yesterday tonight week weekend",
    "morning night time day year friday monday game movie music song food pizza coffee work job school",
    "class exam test homework project meeting call phone message server channel discord link video stream",
    "friend friends people guys dude bro man everyone go going went come coming see saw look watch play",
    "played playing think thought know knew want need like love hate feel felt say said tell told ask",
    "make made get got take took give find good great nice cool awesome bad weird wild funny crazy sure",
    "fine happy sad tired busy late early new old big small long short best worst first last next same",
    "different right wrong thing things stuff something nothing anything everything way lot bit little",
    "much many more most please thanks thank sorry hello hey hi bye later soon never always sometimes",
    "usually honestly actually probably definitely literally basically totally anyway though",
)
_WORDS = [word for line in _WORD_LINES for word in line.split()]
_ENDINGS = ["", "", "", "!", "?", "?!", "...", " lol", " 😂", " 😅", " 👍", ".", ","]


def tiny_corpus(sentences: int = 600, seed: int = 0) -> list[str]:
    """The fixed training text: chat lines, some code and non-Latin text, and generated sentences."""
    rng = random.Random(seed)
    lines = _CHAT_LINES * 10
    for _ in range(sentences):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(2, 12))]
        if rng.random() < 0.3:
            words[0] = words[0].capitalize()
        lines.append(" ".join(words) + rng.choice(_ENDINGS))
    return lines


def build_tiny_tokenizer(folder: Path, chat_template: str | None = CHATML) -> Path:
    """Train a byte-level BPE tokenizer and save it as a transformers tokenizer folder; return the folder.

    The folder holds ``tokenizer.json`` and ``tokenizer_config.json`` (BOS ``<s>``, EOS ``</s>``, PAD
    ``<pad>``, UNK ``<unk>`` and, unless ``chat_template`` is None, the chat template).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    # trim_offsets=False keeps character offsets exact (leading spaces stay inside their token).
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB_SIZE,
        special_tokens=TINY_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(tiny_corpus(), trainer=trainer)
    tokenizer.save(str(folder / "tokenizer.json"))

    config: dict[str, object] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "model_max_length": 2048,
        "add_bos_token": False,
        "clean_up_tokenization_spaces": False,
    }
    if chat_template is not None:
        config["chat_template"] = chat_template
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def build_tiny_model(
    folder: Path, chat_template: str | None = CHATML, seed: int = 0, initializer_range: float = 0.1
) -> Path:
    """Save a tiny random-weight Llama with the tiny tokenizer beside it; return the folder.

    ``AutoModelForCausalLM`` and ``AutoTokenizer`` load the folder offline (``local_files_only=True``).
    Shapes are a miniature of Llama/Mistral (hidden 64, 2 layers, 4 heads of which 2 KV heads, MLP 128),
    so LoRA "all-linear" finds the same q/k/v/o/gate/up/down projections as on a real 7B. Needs torch (the
    ``train`` extra); it takes well under a second.

    ``initializer_range`` is 5x Llama's 0.02 on purpose: with 0.02 and hidden size 64 the frozen output head
    can only produce logits within about +-1.3, so no adapter can lower the loss far below ln(vocab) and a
    "loss decreases" test would measure noise.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = build_tiny_tokenizer(folder, chat_template)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(str(folder))
    return folder
