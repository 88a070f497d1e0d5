"""The whole road from export files to a written dataset, as one library call.

``build_dataset(paths, me, settings, renderer)`` reads the exports, picks out "me",
cleans, scrubs private data, groups conversations, holds out the latest ones, shapes
samples within the token budget and returns everything the writer, the preview and the
report need. ``write_build`` then writes it into the webui's datasets folder. The CLI's
``build`` and the tab's Build button both call these two functions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from discord_echo.core.errors import EchoError
from discord_echo.core.fields import setting
from discord_echo.core.interpreter import tuned_for_build
from discord_echo.core.messages import Author, Message
from discord_echo.dataset.cleaning import CleaningConfig, CleaningReport, clean, may_keep
from discord_echo.dataset.conversations import (
    ConversationConfig,
    message_channel_key,
)
from discord_echo.dataset.participants import Identity, Participant, participants_from_counts, resolve_identity
from discord_echo.dataset.privacy.scrubber import PrivacyConfig, Scrubber
from discord_echo.dataset.samples import DatasetConfig, Sample, TokenCounter, persona_prompt
from discord_echo.dataset.streaming import ConversationSummary, ReplyTargets, Shaper
from discord_echo.dataset.writer import WrittenDataset, write_dataset
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.exports import FileReport, read_exports
from discord_echo.ingest.overlap import SameChannelCheck


class EmptyDatasetError(EchoError):
    """Nothing of mine is left to train on; the message says which filter took what."""

    def __init__(self, stage: str, counts: dict):
        self.stage, self.counts = stage, counts
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items() if v)
        super().__init__(f"no training samples left after {stage} ({detail or 'nothing read'}).")


@dataclass(frozen=True)
class BuildConfig:
    """Every stage's settings, travelling as one object."""

    read: ReadConfig = setting(label="Reading", help="How exports are read.", default_factory=ReadConfig)
    cleaning: CleaningConfig = setting(
        label="Cleaning", help="Which messages are kept.", default_factory=CleaningConfig
    )
    privacy: PrivacyConfig = setting(
        label="Privacy", help="What is scrubbed from message text and what replaces it.", default_factory=PrivacyConfig
    )
    conversations: ConversationConfig = setting(
        label="Conversations",
        help="How messages are grouped into conversations and turns.",
        default_factory=ConversationConfig,
    )
    dataset: DatasetConfig = setting(label="Samples", help="How samples are shaped.", default_factory=DatasetConfig)


@dataclass
class BuildResult:
    """What a build produced; nothing is written yet.

    ``train`` and ``held_out`` are read-only sequences of `Sample` kept in a temporary file (dataset/spool.py),
    in dataset order; ``conversations`` summarizes every conversation with a turn of mine, by start time
    (``Sample.conversation`` indexes it).
    """

    train: Sequence[Sample]
    held_out: Sequence[Sample]
    conversations: Sequence[ConversationSummary]
    eval_conversations: int
    participants: list[Participant]
    identity: Identity
    me_name: str
    system_prompt: str | None
    file_reports: list[FileReport]
    cleaning: CleaningReport
    redactions: dict
    samples: dict
    renderer: str
    authors: list[dict] = field(default_factory=list)
    tokenizer: str | None = None  # the tokenizer folder samples were counted with (None: estimated)
    template: str | None = None  # "Chat Template", a webui template name, or None for built-in ChatML
    same_channel: list[str] = field(default_factory=list)  # warnings: one channel read in two formats

    def report(self) -> dict:
        """The build report: counts that add up, stage by stage."""
        mine = sum(a["kept"] for a in self.authors if a["me"])
        kept = sum(a["kept"] for a in self.authors)
        return {
            "me": self.me_name,
            "files": [
                {"path": r.path, "format": r.format, "warnings": r.warnings, "error": r.error}
                for r in self.file_reports
            ],
            "authors": self.authors,
            "my_share": round(mine / kept, 4) if kept else 0.0,
            "cleaning": self.cleaning.to_dict(),
            "redactions": self.redactions,
            "conversations": len(self.conversations),
            "held_out_conversations": self.eval_conversations,
            "samples": {**self.samples, "train": len(self.train), "eval": len(self.held_out)},
            "renderer": self.renderer,
            "tokenizer": self.tokenizer,
            "template": self.template,
            "same_channel": list(self.same_channel),
            "system_prompt": self.system_prompt,
        }


# Exports whose messages take less than this are held after the first pass instead of read again: reading is
# ~3.5 us a message, and holding 37,000 messages costs ~20 MB. A message is reckoned at ~500 bytes besides its
# text, and its text at one byte a character (an undercount only for text far from ASCII).
KEPT_BYTES = 32 * 2**20
MESSAGE_BYTES = 500


@dataclass
class _Survey:
    """What the first pass learns about the exports before a message is cleaned."""

    channel_speakers: dict[str, set[object]] = field(default_factory=dict)  # channel -> speaker keys
    unordered: set[str] = field(default_factory=set)  # channels whose messages are not oldest-first
    replies: ReplyTargets = field(default_factory=ReplyTargets)  # ids that some message replies to
    _last: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    # Messages, and messages cleaning may keep, per author object: readers share one object per author, and
    # an id() hashes at once where an Author (a dataclass of four fields) is hashed anew on every lookup.
    _per_author: dict[int, list] = field(default_factory=dict)  # id(author) -> [author, messages, speaking]

    def observe(self, message: Message, cleaning: CleaningConfig) -> None:
        author = message.author
        counts = self._per_author.get(id(author))
        if counts is None:
            counts = self._per_author[id(author)] = [author, 0, 0]  # holds the author, so its id stays its own
        counts[1] += 1
        key = message_channel_key(message)
        moment = (message.timestamp, message.index)
        last = self._last.get(key)
        if last is not None and moment < last:
            self.unordered.add(key)
        self._last[key] = moment
        if message.reply_to is not None:
            self.replies.expect(message.reply_to)
        if may_keep(message, cleaning):
            counts[2] += 1
            self.channel_speakers.setdefault(key, set()).add(author.id or author.name)

    @property
    def authors(self) -> Counter[Author]:
        """Messages per author."""
        return self._counted(1)

    @property
    def speaking(self) -> Counter[Author]:
        """Messages cleaning may keep, per author."""
        return self._counted(2)

    def _counted(self, column: int) -> Counter[Author]:
        counter: Counter[Author] = Counter()
        for counts in self._per_author.values():
            if counts[column]:
                counter[counts[0]] += counts[column]
        return counter


def build_dataset(
    paths: Iterable[str | Path],
    me: Sequence[str],
    settings: BuildConfig,
    renderer: TokenCounter,
    progress: Callable[[float, str], None] | None = None,
) -> BuildResult:
    """Run every stage up to the samples. Raises `EchoError` subclasses on bad input.

    ``progress(fraction, what)`` hears about each stage (the tab shows it as a progress bar).

    The exports are streamed twice and never held whole, so memory stays flat however long they are (an
    export small enough to hold, ``KEPT_BYTES``, is read once: the first pass keeps its messages). The
    first pass learns who writes where (who "me" is and whom to pseudonymize must be known before the first
    message is cleaned; the persona line and which channels are group chats come from the same counts) and
    whether each channel is oldest-first. The second cleans and scrubs message by message, closes
    conversations as their gaps come and shapes their samples at once, into a temporary file
    (dataset/spool.py); only each channel's open conversation is held. A channel that is not in time order
    (``--reverse`` exports, overlapping files) is the exception: its messages are kept and sorted at the end.
    """
    with tuned_for_build():  # fewer garbage collections, quicker GIL hand-overs: core/interpreter.py
        return _build_dataset(list(paths), me, settings, renderer, progress)


def _build_dataset(
    paths: list[str | Path],
    me: Sequence[str],
    settings: BuildConfig,
    renderer: TokenCounter,
    progress: Callable[[float, str], None] | None,
) -> BuildResult:
    report_progress = progress or (lambda fraction, what: None)
    report_progress(0.0, "reading the exports")
    file_reports: list[FileReport] = []
    same_channel = SameChannelCheck()  # one channel given in two formats would be trained on twice
    survey = _Survey()
    kept_messages: list[Message] | None = []  # None once the exports are too big to hold
    kept_bytes = 0
    for read, message in enumerate(read_exports(paths, settings.read, file_reports), 1):
        survey.observe(message, settings.cleaning)
        if kept_messages is not None:
            kept_bytes += MESSAGE_BYTES + len(message.content)
            if kept_bytes <= KEPT_BYTES:
                kept_messages.append(message)
            else:
                kept_messages = None
        if read % 20_000 == 0:  # the total is not known yet: the count shows a long read is moving
            report_progress(0.0, f"reading the exports ({read:,} messages)")
    errors = [r.error for r in file_reports if r.error]
    authors = survey.authors
    if not authors:
        raise EmptyDatasetError("reading", {"files": len(file_reports), "unreadable": len(errors)})
    participants = participants_from_counts(authors)
    identity = resolve_identity(participants, me)
    scrubber = Scrubber(settings.privacy, people=_other_people(participants, identity))
    me_name, others, group_channels = _speakers(survey, identity)
    if settings.privacy.names:
        # Names outside message text too: "Name: " prefixes, reply quotes and the persona line.
        others = _ranked_names([scrubber.scrub(name) for name in others])
    system = persona_prompt(settings.dataset, me_name, others) if settings.dataset.persona else None

    total = authors.total()
    report_progress(0.3, f"cleaning, scrubbing and shaping {total:,} messages")
    names_scrubber = scrubber if settings.privacy.names else None
    replies = survey.replies
    shaper = Shaper(
        settings.dataset,
        settings.conversations,
        renderer,
        system,
        group_channels,
        survey.unordered,
        replies,
        names_scrubber,
    )
    cleaning_report = CleaningReport()
    redactions = scrubber.new_report()
    kept: Counter[str] = Counter()
    mine_kept = 0
    if kept_messages is None:
        file_reports = []  # the second read reports the same files again
    try:  # the shaper's worker thread stops however the pass ends
        messages = kept_messages if kept_messages is not None else read_exports(paths, settings.read, file_reports)
        # Seen in this pass, not the first: its warnings are wanted only at the end, and here the build's thread
        # has time to spare while the worker counts (dataset/background_counts.py).
        messages = same_channel.watch(messages)
        for utterance in clean(messages, identity, settings.cleaning, cleaning_report):
            seen = cleaning_report.total
            if seen % 2000 == 0:
                report_progress(0.3 + 0.65 * seen / total, f"shaping samples ({seen:,}/{total:,} messages)")
            utterance.text = scrubber.scrub(utterance.text, redactions)
            if not utterance.text:
                continue
            message = utterance.message
            kept[message.author.display_name] += 1
            mine_kept += utterance.is_me
            if message.id is not None and replies.wanted(message.id):
                who = message.author.display_name
                replies.keep(message.id, names_scrubber.scrub(who) if names_scrubber else who, utterance.text)
            shaper.add(utterance)
        if not mine_kept:
            raise EmptyDatasetError("cleaning", cleaning_report.to_dict()["dropped"])
        train, held_out, conversations, eval_conversations = shaper.finish()
    finally:
        shaper.close()
    if not train:
        raise EmptyDatasetError("shaping samples", shaper.builder.report.to_dict()["dropped_my_turns"])
    report_progress(1.0, f"{len(train):,} training samples")
    return BuildResult(
        train=train,
        held_out=held_out,
        conversations=conversations,
        eval_conversations=eval_conversations,
        participants=participants,
        identity=identity,
        me_name=me_name,
        system_prompt=system,
        file_reports=file_reports,
        cleaning=cleaning_report,
        redactions=redactions.to_dict(),
        samples=shaper.builder.report.to_dict(),
        renderer=renderer.description,
        authors=_author_table(authors, kept, identity),
        tokenizer=getattr(renderer, "tokenizer_folder", None),
        template=getattr(renderer, "template_name", None),
        same_channel=same_channel.warnings(),
    )


def write_build(
    result: BuildResult,
    settings: BuildConfig,
    user_data: Path,
    name: str,
    *,
    overwrite: bool = False,
    target: Literal["chat", "legacy"] = "chat",
) -> WrittenDataset:
    """Write a build's train/eval datasets and its sidecar report into ``user_data``."""
    metadata = {"settings": _settings_dict(settings), "report": result.report()}
    return write_dataset(
        user_data, name, result.train, result.held_out, metadata, overwrite=overwrite, target=target, me=result.me_name
    )


# -- helpers ------------------------------------------------------------------------------


def _settings_dict(settings: BuildConfig) -> dict:
    return {name: asdict(getattr(settings, name)) for name in settings.__dataclass_fields__}


def _other_people(participants: list[Participant], identity: Identity) -> list[list[str]]:
    """Everyone but me, each as the list of their names (for consistent pseudonyms)."""
    return [
        sorted(person.names | person.display_names)
        for person in participants
        if not (person.ids & identity.ids or person.name_keys() & identity.name_keys)
    ]


def _speakers(survey: _Survey, identity: Identity) -> tuple[str, list[str], set[str]]:
    """My most used display name, the others' names by how much they write, and the group-chat channels.

    Counted over the messages cleaning may keep (no system lines, bots or forwards), before their text is
    cleaned: the persona line and the ``Name:`` prefixes must be known before the first sample is shaped.
    """
    mine: Counter[str] = Counter()
    theirs: Counter[str] = Counter()
    my_keys: set[object] = set()
    for author, count in survey.speaking.items():
        if identity.matches(author):
            mine[author.display_name] += count
            my_keys.add(author.id or author.name)
        else:
            theirs[author.display_name] += count
    me_name = mine.most_common(1)[0][0] if mine else "me"
    groups = {key for key, speakers in survey.channel_speakers.items() if len(speakers - my_keys) > 1}
    return me_name, [name for name, _ in theirs.most_common()], groups


def _author_table(author_counts: Counter[Author], kept: Counter[str], identity: Identity) -> list[dict]:
    total: Counter[str] = Counter()
    for author, count in author_counts.items():
        total[author.display_name] += count
    mine = {author.display_name for author in author_counts if identity.matches(author)}
    return [{"name": n, "messages": c, "kept": kept.get(n, 0), "me": n in mine} for n, c in total.most_common()]


def _ranked_names(values: list[str]) -> list[str]:
    """Names in the order given, each once (pseudonyms of two names can coincide)."""
    return list(dict.fromkeys(values))
