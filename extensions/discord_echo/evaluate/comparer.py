"""Base model vs the LoRA on the same prompts, from ONE loaded model: replies, perplexities, a report.

``Comparer`` holds one peft ``PeftModel`` (base weights + adapter) and its tokenizer. Base replies come from
the same model inside peft's ``disable_adapter()`` context, never from a second copy or a reload: switching
costs a flag flip per LoRA layer (benchmarks/compare.py measures it against unload + reload + apply).
Prompts are rendered exactly as the trainer rendered them: the training chat template (by default the one
saved with the adapter), ``apply_chat_template(messages[:i], add_generation_prompt=True)`` token ids, the
persona system line from the dataset. Base and tuned replies use the same settings and the same seed, so
with sampling the random stream is the same and only the weights differ.

Several prompts are answered in one left-padded ``model.generate`` call (``generate_many``, ``batch``; greedy
replies equal the one-at-a-time ones token for token), and rows are scored in length-sorted batches with the
vocabulary projection only where a token is scored (``row_scores``): benchmarks/evaluate.py measures both.

``perplexity(samples, adapter)`` scores assistant tokens only, with the labels the trainer used
(templates/trainer_rows.py: the webui's masking rule from templates/chat.py), so the tuned figure on the
held-out set is the trainer's eval loss, exponentiated. ``report.evaluate`` (evaluate/report.py) runs a whole
comparison.

torch, transformers and peft are imported inside functions, so ``CompareConfig`` (and the UI widgets built
from it) need none of them.
"""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError, HostUnavailableError
from discord_echo.core.fields import setting
from discord_echo.core.peft_internals import adapters_off, tuner_layers
from discord_echo.evaluate.metrics import HeldOutPair, messages_of, pick
from discord_echo.evaluate.model_loading import (
    CHAT_TEMPLATE,
    adapter_template,
    apply_adapter,
    load_base_model,
    load_tokenizer,
)
from discord_echo.templates.trainer_rows import tokenize_row

MAX_NEW_TOKENS = 1024
MAX_TEMPERATURE = 2.0
GENERATE_BATCH = 8  # prompts per model.generate call in generate_many / batch (the Evaluate default: 8 rows)
_SENTINEL = "zq7xv"  # a reply text no template contains, to find what a template writes after a reply


@dataclass(frozen=True)
class CompareRow:
    """One line of the side-by-side table: the friend's turn, what I said, and both models' replies."""

    prompt: str
    real: str
    base: str
    tuned: str


@dataclass(frozen=True)
class CompareConfig:
    """Sampling settings shared by the base and the tuned reply."""

    max_new_tokens: int = setting(64, "Max new tokens", "Longest reply, in tokens. Chat replies are short.")
    temperature: float = setting(0.7, "Temperature", "Randomness of sampling; ignored when greedy.")
    top_p: float = setting(0.9, "Top-p", "Sample only from the most likely tokens holding this probability.")
    seed: int = setting(0, "Seed", "Same seed for base and tuned: only the weights differ.")
    greedy: bool = setting(False, "Greedy", "Always take the most likely token: repeatable, but often dull.")

    def __post_init__(self) -> None:
        if not isinstance(self.max_new_tokens, int) or not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise ConfigError(
                "max_new_tokens", self.max_new_tokens, f"must be a whole number from 1 to {MAX_NEW_TOKENS}"
            )
        if not (isinstance(self.temperature, (int, float)) and 0 < self.temperature <= MAX_TEMPERATURE):
            raise ConfigError("temperature", self.temperature, f"must be above 0 and at most {MAX_TEMPERATURE}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise ConfigError("top_p", self.top_p, "must be above 0 and at most 1")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError("seed", self.seed, "must be a whole number, 0 or more")


@dataclass(frozen=True)
class Score:
    """Summed negative log-likelihood (nats) of the scored tokens, and how many there were."""

    nll: float
    tokens: int

    @property
    def perplexity(self) -> float:
        return math.exp(self.nll / self.tokens) if self.tokens else float("nan")


class Comparer:
    """One loaded ``PeftModel`` + tokenizer; every call states whether the adapter is on.

    Build it with ``Comparer.load(base, adapter)`` or, inside the webui, from the already loaded
    ``shared.model`` (a ``PeftModel`` after ``add_lora_to_model``) and ``shared.tokenizer``. Calls are
    serialised by ``lock`` (never taken twice by one call, so a plain ``threading.Lock`` works): the adapter
    switch is model-wide state. Inside the webui pass ``shared.generation_lock`` so the Chat tab cannot
    generate while the adapter is off. The LoRA layers are found once: make a new Comparer when the model
    or the LoRA changes.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        chat_template: str,
        *,
        template_name: str = "",
        adapter_dir: Path | None = None,
        lock: Any = None,
    ):
        if not hasattr(model, "disable_adapter"):
            raise HostUnavailableError("compare", "the loaded model has no LoRA applied; apply the adapter first")
        self.model = model.eval()  # dropout off: perplexities and greedy replies must be repeatable
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.template_name = template_name or CHAT_TEMPLATE
        self.adapter_dir = Path(adapter_dir) if adapter_dir else None
        self._lock = lock if lock is not None else threading.Lock()
        self._layers = tuner_layers(model)
        self._stop_ids, self._marker = self._turn_end()

    @classmethod
    def load(
        cls, base: str | Path, adapter: str | Path, *, template: str | None = None, templates_dir: Path | None = None
    ) -> Comparer:
        """Load ``base`` once and apply ``adapter`` (a LoRA folder); float32 on CPU, on CUDA as the LoRA trained.

        ``template``: None uses the template saved with the adapter (what training rendered); "Chat Template"
        or a webui instruction template name (found in ``templates_dir``) overrides it.
        """
        tokenizer = load_tokenizer(base)
        model = apply_adapter(load_base_model(base, adapter), adapter)
        text, name = adapter_template(Path(adapter), tokenizer, template, templates_dir)
        return cls(model, tokenizer, text, template_name=name, adapter_dir=Path(adapter))

    # -- adapter switch ----------------------------------------------------------------------------------

    @contextmanager
    def adapter(self, enabled: bool) -> Iterator[None]:
        """Run the body with the adapter on (tuned) or off (base), holding the model's lock.

        Off is what peft's ``disable_adapter()`` does for LoRA, without its side work: that context first walks
        every parameter (``get_model_status``) and its ``enable_adapters`` toggles ``requires_grad`` on every
        adapter weight, 1-2.3 ms per switch even on the tiny test model, more than the one-token forward it
        precedes (benchmarks/compare.py). Here the flag each LoRA layer's forward reads, ``_disable_adapters``,
        is flipped on the layers found once, and restored on exit (core/peft_internals.py, the one place that
        touches that peft internal). Should a peft release drop that flag, the public ``disable_adapter()`` is
        used instead.
        """
        with self._lock:
            if enabled:
                yield
            else:
                with adapters_off(self.model, self._layers):
                    yield

    # -- prompts -----------------------------------------------------------------------------------------

    def render(self, messages: Sequence[dict], add_generation_prompt: bool = False) -> str:
        """``messages`` as the training template writes them."""
        return self.tokenizer.apply_chat_template(
            list(messages),
            chat_template=self.chat_template,
            add_generation_prompt=add_generation_prompt,
            tokenize=False,
        )

    def prompt_ids(self, messages: Sequence[dict]) -> list[int]:
        """Token ids before a reply: exactly the prefix the trainer unmasks after (templates/chat.py rule)."""
        out = self.tokenizer.apply_chat_template(
            list(messages),
            chat_template=self.chat_template,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=False,
        )
        return list(out["input_ids"] if isinstance(out, dict) else out)

    # -- replies -----------------------------------------------------------------------------------------

    def generate(self, messages: Sequence[dict], adapter: bool, settings: CompareConfig | None = None) -> str:
        """The reply to ``messages`` (which end with the friend's turn), with or without the adapter."""
        return self._finish(self._generate_ids(self.prompt_ids(messages), adapter, settings or CompareConfig()))

    def stream(self, messages: Sequence[dict], adapter: bool, settings: CompareConfig | None = None) -> Iterator[str]:
        """Yield the reply so far while it is generated; the last value equals ``generate``'s result.

        Generation runs in a thread feeding a ``TextIteratorStreamer``; closing the iterator early stops it
        at the next token.
        """
        from transformers import TextIteratorStreamer

        settings = settings or CompareConfig()
        prompt = self.prompt_ids(messages)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancel = threading.Event()
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["ids"] = self._generate_ids(prompt, adapter, settings, streamer, cancel)
            except BaseException as exc:  # handed to the consumer below, which re-raises it
                result["error"] = exc
                streamer.on_finalized_text("", stream_end=True)

        thread = threading.Thread(target=run, name="discord-echo-compare", daemon=True)
        thread.start()
        text = ""
        try:
            for piece in streamer:
                text += piece
                yield self._cut(text)
            thread.join()
            if "error" in result:
                raise result["error"]
            yield self._finish(result["ids"])
        finally:
            cancel.set()

    def generate_many(
        self,
        prompts: Sequence[Sequence[dict]],
        adapter: bool,
        settings: CompareConfig | None = None,
        batch_size: int = GENERATE_BATCH,
    ) -> list[str]:
        """Replies to several prompts, ``batch_size`` prompts per ``model.generate`` call (left-padded).

        Greedy replies equal ``generate``'s one-at-a-time replies token for token (tests/evaluate/test_comparer.py):
        the prompts are padded on the left with an attention mask, so each row attends to its own tokens only
        and its positions count from its first real token. With sampling, each call is seeded with
        ``settings.seed`` as ``generate`` is, so base and tuned still draw the same random stream, but a row's
        draws depend on the rows batched with it: pass ``batch_size=1`` to get ``generate``'s sampled replies.
        """
        settings = settings or CompareConfig()
        if batch_size < 1:
            raise ConfigError("batch_size", batch_size, "must be 1 or more")
        ids = [self.prompt_ids(p) for p in prompts]
        replies: list[str] = []
        for first in range(0, len(ids), batch_size):
            rows = self._generate_rows(ids[first : first + batch_size], adapter, settings)
            replies += [self._finish(r) for r in rows]
        return replies

    def iter_batch(
        self,
        pairs: Sequence[HeldOutPair],
        n: int,
        settings: CompareConfig | None = None,
        batch_size: int = GENERATE_BATCH,
    ) -> Iterator[CompareRow]:
        """Rows (friend, real, base, tuned) for ``n`` held-out pairs spread over the set.

        Generated ``batch_size`` pairs at a time (``generate_many``: base for the chunk, then tuned), yielded as
        each chunk is done; ``batch_size=1`` gives exactly ``generate``'s replies, sampled ones included.
        """
        settings = settings or CompareConfig()
        picked = pick(pairs, n)
        for first in range(0, len(picked), batch_size):
            chunk = picked[first : first + batch_size]
            prompts = [pair.prompt for pair in chunk]
            base = self.generate_many(prompts, False, settings, batch_size)
            tuned = self.generate_many(prompts, True, settings, batch_size)
            for pair, b, t in zip(chunk, base, tuned, strict=True):
                yield CompareRow(pair.friend_text, pair.reply, b, t)

    def batch(
        self,
        pairs: Sequence[HeldOutPair],
        n: int,
        settings: CompareConfig | None = None,
        batch_size: int = GENERATE_BATCH,
    ) -> list[CompareRow]:
        """All rows of ``iter_batch``."""
        return list(self.iter_batch(pairs, n, settings, batch_size))

    # -- scores ------------------------------------------------------------------------------------------

    def score(self, samples: Sequence[Any], adapter: bool, batch_size: int = 4) -> Score:
        """Summed NLL of the assistant tokens of ``samples`` (Samples, rows or message lists)."""
        rows = [tokenize_row(self.tokenizer, messages_of(s), self.chat_template) for s in samples]
        scores = self.row_scores([(r["input_ids"], r["labels"]) for r in rows], adapter, batch_size)
        return Score(math.fsum(s.nll for s in scores), sum(s.tokens for s in scores))

    def row_scores(
        self, rows: Sequence[tuple[Sequence[int], Sequence[int]]], adapter: bool, batch_size: int = 4
    ) -> list[Score]:
        """Summed NLL of the labelled tokens of each ``(input_ids, labels)`` row (label -100: not scored).

        Token t predicts token t+1, as the HF causal-LM loss shifts its labels. Rows are batched in length
        order (right-padded, with an attention mask), so a batch holds rows of similar length and little
        padding; the result is in the order given. Where the model takes ``logits_to_keep`` (transformers'
        causal LMs), the vocabulary projection runs only at the positions some row of the batch scores, not at
        every position: with a 49k-token vocabulary that projection is most of a forward pass.
        """
        import torch
        import torch.nn.functional as F

        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
        scores = [Score(0.0, 0)] * len(rows)
        with self.adapter(adapter), torch.inference_mode():
            for first in range(0, len(order), batch_size):
                chunk = order[first : first + batch_size]
                width = max(len(rows[i][0]) for i in chunk)
                ids = torch.tensor([[*rows[i][0], *[pad] * (width - len(rows[i][0]))] for i in chunk])
                labels = torch.tensor([[*rows[i][1], *[-100] * (width - len(rows[i][1]))] for i in chunk])
                mask = torch.tensor([[1] * len(rows[i][0]) + [0] * (width - len(rows[i][0])) for i in chunk])
                target = labels[:, 1:]
                positions = (target != -100).any(dim=0).nonzero().flatten()
                if not len(positions):
                    continue
                inputs = {"input_ids": ids.to(self._device), "attention_mask": mask.to(self._device)}
                if self._keeps_logits:
                    logits = self.model(**inputs, logits_to_keep=positions.to(self._device)).logits
                else:
                    logits = self.model(**inputs).logits[:, positions]
                nll = F.cross_entropy(
                    logits.float().transpose(1, 2), target[:, positions].to(self._device), ignore_index=-100,
                    reduction="none",
                ).sum(dim=1)
                counts = (target != -100).sum(dim=1)
                for i, n, c in zip(chunk, nll.tolist(), counts.tolist(), strict=True):
                    scores[i] = Score(float(n), int(c))
        return scores

    def perplexity(self, samples: Sequence[Any], adapter: bool) -> float:
        """exp(mean NLL) over the assistant tokens of ``samples``, with or without the adapter."""
        return self.score(samples, adapter).perplexity

    def logits(self, messages: Sequence[dict], adapter: bool) -> Any:
        """Logits (a float32 CPU tensor, tokens x vocabulary) for the whole rendered row."""
        import torch

        row = tokenize_row(self.tokenizer, list(messages), self.chat_template)
        with self.adapter(adapter), torch.inference_mode():
            out = self.model(input_ids=torch.tensor([row["input_ids"]], device=self._device)).logits
        return out[0].float().cpu()

    # -- internals ---------------------------------------------------------------------------------------

    @property
    def _device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def _keeps_logits(self) -> bool:
        """Whether the causal LM under the adapter takes ``logits_to_keep`` (a tensor of positions)."""
        base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        return "logits_to_keep" in inspect.signature(base.forward).parameters

    def _turn_end(self) -> tuple[list[int], str]:
        """Token ids that end my turn (EOS and the template's end-of-turn marker) and that marker's text.

        The trainer's labels run to the end of ``template(messages[:i+1])``, so the model learned to write the
        marker after a reply (``<|im_end|>`` in ChatML, ``<|eot_id|>`` in Llama 3): generation stops there.
        """
        probe = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _SENTINEL}]
        tail = self.render(probe)[len(self.render(probe[:1], True)) :]
        marker = tail[len(_SENTINEL) :].strip() if tail.startswith(_SENTINEL) else ""
        stop = [self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id is not None else []
        ids = self.tokenizer.encode(marker, add_special_tokens=False) if marker else []
        if len(ids) == 1 and ids[0] not in stop:
            stop.append(ids[0])
        return stop, marker

    def _generation_config(self, settings: CompareConfig) -> Any:
        from transformers import GenerationConfig

        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self._stop_ids[0] if self._stop_ids else 0
        # top-p only, as the settings say: top_k=0 turns off transformers' default top-k 50 (unset, it is filled in).
        sampling = {} if settings.greedy else {"temperature": settings.temperature, "top_p": settings.top_p, "top_k": 0}
        return GenerationConfig(
            max_new_tokens=settings.max_new_tokens,
            do_sample=not settings.greedy,
            eos_token_id=self._stop_ids,
            pad_token_id=pad,
            **sampling,
        )

    def _generate_ids(
        self,
        prompt: list[int],
        adapter: bool,
        settings: CompareConfig,
        streamer: Any = None,
        cancel: threading.Event | None = None,
    ) -> list[int]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                stopped = cancel is not None and cancel.is_set()
                return torch.full((input_ids.shape[0],), stopped, dtype=torch.bool, device=input_ids.device)

        ids = torch.tensor([prompt], device=self._device)
        with self.adapter(adapter), torch.inference_mode():
            torch.manual_seed(settings.seed)  # seeds CUDA too; same stream for base and tuned
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                generation_config=self._generation_config(settings),
                streamer=streamer,
                stopping_criteria=StoppingCriteriaList([Cancelled()]),
            )
        return out[0, len(prompt) :].tolist()

    def _generate_rows(self, prompts: Sequence[list[int]], adapter: bool, settings: CompareConfig) -> list[list[int]]:
        """New token ids for each prompt from ONE ``model.generate`` call: left padding plus an attention mask.

        Generation (with its KV cache) runs until every row has stopped; a row that stopped early is filled
        with the pad id after its stop token, so each row is cut just after its first stop token, which is
        where ``_generate_ids`` for that prompt alone ends.
        """
        import torch

        if len(prompts) == 1:
            return [self._generate_ids(prompts[0], adapter, settings)]
        config = self._generation_config(settings)
        width = max(len(p) for p in prompts)
        ids = torch.tensor([[config.pad_token_id] * (width - len(p)) + p for p in prompts], device=self._device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self._device)
        with self.adapter(adapter), torch.inference_mode():
            torch.manual_seed(settings.seed)  # as _generate_ids: same stream for base and tuned
            out = self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
        stop = set(self._stop_ids)
        rows = []
        for row in out[:, width:].tolist():
            end = next((i + 1 for i, token in enumerate(row) if token in stop), len(row))
            rows.append(row[:end])
        return rows

    def _cut(self, text: str) -> str:
        """Text up to the end-of-turn marker (when the marker is plain text, not a special token)."""
        if self._marker and self._marker in text:
            text = text.split(self._marker, 1)[0]
        return text.strip()

    def _finish(self, ids: list[int]) -> str:
        return self._cut(self.tokenizer.decode(ids, skip_special_tokens=True))

