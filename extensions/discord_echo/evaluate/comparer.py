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
        self._prefixes: _PrefixStore | None = None  # set only inside sharing_prefixes()

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

    @contextmanager
    def sharing_prefixes(self, prompts: Sequence[Sequence[dict]]) -> Iterator[None]:
        """Inside the body, each of ``prompts`` is run through the model at most once per adapter state.

        A whole Evaluate reads the same few prompts again and again: scoring my held-out rows runs every
        picked prompt (each is the start of a held-out row), generating base and tuned replies runs them
        again, and topicality scores three sets of replies after each prompt, twice per prompt (as its own
        and as another reply's). Here the key/value cache of a prompt's tokens but its last is kept once it has
        been computed (while scoring a row that starts with it, or to generate from it), and later
        ``generate_many`` and ``row_scores`` calls with the same adapter state start from it, so only the
        tokens after it are run. The results are the same to float tolerance (a cached prefix is the same
        computation; tests/evaluate/test_comparer.py compares with and without). The caches are freed when the
        body ends: for 8 prompts of ~100 tokens on SmolLM2-135M, ~5 MB per prompt and adapter state.
        """
        previous = self._prefixes
        self._prefixes = _PrefixStore([self.prompt_ids(p) for p in prompts])
        try:
            yield
        finally:
            self._prefixes = previous

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

        Work shared by rows is run once: identical rows are scored once; the unscored start all rows have in
        common (the persona system line: 28 of Evaluate's ~50-120-token rows on SmolLM2) is run once and each
        row continues from its cache; and inside ``sharing_prefixes`` a row that starts with a kept prompt
        prefix continues from that instead, while a row that starts with a wanted prompt leaves its cache kept.
        """
        import torch

        store = self._prefixes
        scores = [Score(0.0, 0)] * len(rows)
        unique: dict[tuple[tuple[int, ...], tuple[int, ...]], list[int]] = {}
        room: dict[int, int] = {}  # row -> how many leading tokens it may take from a cache
        for i, (ids, labels) in enumerate(rows):
            # The first scored target: label 0 is never one (no token predicts the first).
            first = next((t for t, label in enumerate(labels) if t and label != -100), None)
            if first is not None:
                same = unique.setdefault((tuple(ids), tuple(labels)), [])
                same.append(i)
                room[same[0]] = first - 1
        todo = [same[0] for same in unique.values()]
        if not todo:
            return scores
        with self.adapter(adapter), torch.inference_mode():
            starts = {i: (0, None) for i in todo}  # row -> (cached tokens, their (keys, values) per layer)
            head = min([*(room[i] for i in todo), _common_prefix([rows[i][0] for i in todo])])
            if len(todo) > 1 and head >= 2:
                layers = self._prefill(list(rows[todo[0]][0][:head]))
                starts = {i: (head, layers) for i in todo} if layers is not None else starts
            for i in todo:
                key = store.longest(rows[i][0], adapter, room[i]) if store else None
                if key is not None and len(key) > starts[i][0]:
                    starts[i] = (len(key), store.caches[(adapter, key)])
            todo.sort(key=lambda i: len(rows[i][0]) - starts[i][0])
            for first in range(0, len(todo), batch_size):
                self._score_batch(todo[first : first + batch_size], rows, starts, adapter, scores)
        for same in unique.values():
            for i in same[1:]:
                scores[i] = scores[same[0]]
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

    def _score_batch(
        self,
        chunk: list[int],
        rows: Sequence[tuple[Sequence[int], Sequence[int]]],
        starts: dict[int, tuple[int, Any]],
        adapter: bool,
        scores: list[Score],
    ) -> None:
        """Score rows ``chunk`` in one forward, each from its cached start (``starts``: tokens, cache).

        The cached starts are left-padded into one cache and the rest of each row is right-padded after it;
        the attention mask hides both paddings and each row's positions continue from its own start, so a row
        attends to exactly what it would in a forward of its own. Wanted prompts (``sharing_prefixes``) the
        rows start with are kept: a row's tokens sit contiguously in the cache, from its left padding on.
        """
        import torch

        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        lengths = [starts[i][0] for i in chunk]
        tails = [(rows[i][0][m:], rows[i][1][m:]) for i, m in zip(chunk, lengths, strict=True)]
        prefix, width = max(lengths), max(len(t[0]) for t in tails)
        ids = torch.tensor([[*t, *[pad] * (width - len(t))] for t, _ in tails])
        labels = torch.tensor([[*lab, *[-100] * (width - len(lab))] for _, lab in tails])
        mask = torch.tensor([[0] * (prefix - m) + [1] * (m + len(t)) + [0] * (width - len(t))
                             for m, (t, _) in zip(lengths, tails, strict=True)])  # fmt: skip
        inputs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if prefix:
            inputs["position_ids"] = torch.tensor([[m + t for t in range(width)] for m in lengths])
            inputs["past_key_values"] = _padded_cache([starts[i][1] for i in chunk], lengths)
        store = self._prefixes
        wanted = {j: store.missing(rows[i][0], adapter) for j, i in enumerate(chunk)} if store else {}
        keep = any(wanted.values())
        inputs["use_cache"] = keep or bool(prefix)
        out = self._batch_nll(inputs, labels)
        if out is None:
            return
        (nll, counts), cache = out
        for i, n, c in zip(chunk, nll, counts, strict=True):
            scores[i] = Score(float(n), int(c))
        layers = _layer_tensors(cache) if keep else None
        if store is not None and keep and layers is None:
            store.usable = False  # a cache of another kind (sliding window, ...): not kept, nothing reused
        for j, keys in wanted.items() if layers is not None else ():
            at = prefix - lengths[j]  # the row's left padding
            for key in keys:
                n = len(key)
                store.caches[(adapter, key)] = [
                    (k[j : j + 1, :, at : at + n].clone(), v[j : j + 1, :, at : at + n].clone()) for k, v in layers
                ]

    def _prefill(self, ids: list[int]) -> list[tuple[Any, Any]] | None:
        """``(keys, values)`` per layer for ``ids`` run alone (batch 1); None if the cache is not a plain one."""
        import torch

        extra = {"logits_to_keep": 1} if self._keeps_logits else {}
        out = self.model(input_ids=torch.tensor([ids], device=self._device), use_cache=True, **extra)
        return _layer_tensors(out.past_key_values)

    def _batch_nll(self, inputs: dict[str, Any], labels: Any) -> tuple[tuple[list[float], list[int]], Any] | None:
        """``((summed NLL per row, scored tokens per row), the forward's cache)`` of one batch; None if none scored.

        The vocabulary projection runs only at the positions some row scores (``logits_to_keep``, where the
        model takes it).
        """
        import torch.nn.functional as F

        target = labels[:, 1:]
        positions = (target != -100).any(dim=0).nonzero().flatten()
        if not len(positions):
            return None
        device = self._device
        inputs = {k: v.to(device) if hasattr(v, "to") and not hasattr(v, "layers") else v for k, v in inputs.items()}
        if self._keeps_logits:
            out = self.model(**inputs, logits_to_keep=positions.to(device))
            logits = out.logits
        else:
            out = self.model(**inputs)
            logits = out.logits[:, positions]
        nll = F.cross_entropy(
            logits.float().transpose(1, 2), target[:, positions].to(device), ignore_index=-100, reduction="none"
        ).sum(dim=1)
        counts = (target != -100).sum(dim=1)
        return (nll.tolist(), counts.tolist()), getattr(out, "past_key_values", None)

    def _prompt_cache(self, prompts: Sequence[list[int]], adapter: bool) -> Any:
        """A left-padded cache of every prompt's tokens but its last, each prompt run alone (or kept); or None.

        Run alone, a prompt costs its own tokens only, where one padded batch would run every row at the
        longest prompt's length (8 x 116 positions for 526 real tokens on Evaluate's sample prompts). None when
        a prompt has a single token or the model's cache is not a plain ``DynamicCache``: then the caller
        prefills the padded batch itself.
        """

        store = self._prefixes
        if any(len(p) < 2 for p in prompts) or (store is not None and not store.usable):
            return None
        found = []
        for prompt in prompts:
            key = tuple(prompt[:-1])
            layers = store.caches.get((adapter, key)) if store else None
            if layers is None:
                layers = self._prefill(list(key))
                if layers is None:
                    if store is not None:
                        store.usable = False
                    return None
                if store is not None and key in store.wanted:
                    store.caches[(adapter, key)] = layers
            found.append(layers)
        return _padded_cache(found, [len(p) - 1 for p in prompts])

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
        where ``_generate_ids`` for that prompt alone ends. The prompts are prefilled one by one (or taken from
        ``sharing_prefixes``) and handed to ``generate`` as one left-padded cache, so no padding is run
        through the model (``_prompt_cache``); ``generate`` then runs each prompt's last token and decodes.
        """
        import torch

        if len(prompts) == 1:
            return [self._generate_ids(prompts[0], adapter, settings)]
        config = self._generation_config(settings)
        width = max(len(p) for p in prompts)
        ids = torch.tensor([[config.pad_token_id] * (width - len(p)) + p for p in prompts], device=self._device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self._device)
        with self.adapter(adapter), torch.inference_mode():
            cache = self._prompt_cache(prompts, adapter)
            extra = {} if cache is None else {"past_key_values": cache}
            torch.manual_seed(settings.seed)  # as _generate_ids: same stream for base and tuned
            out = self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config, **extra)
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


class _PrefixStore:
    """The prompt prefixes ``Comparer.sharing_prefixes`` wants kept, and the caches kept so far.

    A prefix is a prompt's token ids but its last: generation runs that last token itself, and a scored reply
    is predicted from the logits at it. ``caches`` maps ``(adapter on, prefix)`` to one ``(keys, values)``
    pair per layer, each of batch size 1.
    """

    def __init__(self, prompts: Sequence[Sequence[int]]):
        self.wanted = sorted({tuple(p[:-1]) for p in prompts if len(p) >= 2}, key=len, reverse=True)
        self.caches: dict[tuple[bool, tuple[int, ...]], list[tuple[Any, Any]]] = {}
        self.usable = True  # False once the model's cache turned out not to be a plain DynamicCache

    def longest(self, ids: Sequence[int], adapter: bool, room: int) -> tuple[int, ...] | None:
        """The longest kept prefix of ``ids`` (for this adapter state) of at most ``room`` tokens."""
        for key in self.wanted:  # longest first
            if len(key) <= room and (adapter, key) in self.caches and tuple(ids[: len(key)]) == key:
                return key
        return None

    def missing(self, ids: Sequence[int], adapter: bool) -> list[tuple[int, ...]]:
        """Wanted prefixes ``ids`` starts with that are not kept yet for this adapter state."""
        if not self.usable:
            return []
        return [k for k in self.wanted if (adapter, k) not in self.caches and tuple(ids[: len(k)]) == k]


def _layer_tensors(cache: Any) -> list[tuple[Any, Any]] | None:
    """``(keys, values)`` per layer of a plain ``DynamicCache``; None for any other cache (sliding window,
    shared or offloaded layers), whose tensors cannot simply be sliced and padded."""
    from transformers.cache_utils import DynamicCache, DynamicLayer

    if type(cache) is not DynamicCache or not cache.layers:
        return None
    if any(type(layer) is not DynamicLayer or layer.keys is None or not layer.keys.numel() for layer in cache.layers):
        return None
    return [(layer.keys, layer.values) for layer in cache.layers]


def _padded_cache(prefixes: Sequence[list[tuple[Any, Any]]], lengths: Sequence[int]) -> Any:
    """One ``DynamicCache`` of the rows' caches, each padded on the left with zeros to the longest.

    The zeros are never attended to: the attention mask marks them as padding, as it marks left-padded
    prompt tokens.
    """
    import torch
    import torch.nn.functional as F
    from transformers.cache_utils import DynamicCache

    width = max(lengths)
    layers = []
    for index in range(len(prefixes[0])):
        keys = [F.pad(p[index][0], (0, 0, width - m, 0)) for p, m in zip(prefixes, lengths, strict=True)]
        values = [F.pad(p[index][1], (0, 0, width - m, 0)) for p, m in zip(prefixes, lengths, strict=True)]
        layers.append((torch.cat(keys), torch.cat(values)))
    return DynamicCache(ddp_cache_data=layers)


def _common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """How many leading tokens all ``rows`` share."""
    shortest = min(len(r) for r in rows)
    for t in range(shortest):
        token = rows[0][t]
        if any(r[t] != token for r in rows):
            return t
    return shortest
