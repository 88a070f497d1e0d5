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
from pathlib import Path
from typing import Literal

from discord_echo.core.errors import EchoError
from discord_echo.core.fields import setting
from discord_echo.core.messages import Author
from discord_echo.dataset.cleaning import CleaningConfig, CleaningReport, Utterance, clean
from discord_echo.dataset.conversations import Conversation, ConversationConfig, build_conversations
from discord_echo.dataset.participants import Identity, Participant, participants_from_counts, resolve_identity
from discord_echo.dataset.privacy.scrubber import PrivacyConfig, Scrubber
from discord_echo.dataset.samples import DatasetConfig, Sample, SampleBuilder, TokenCounter, persona_prompt
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
    """What a build produced, in memory; nothing is written yet."""

    train: list[Sample]
    held_out: list[Sample]
    conversations: list[Conversation]
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


def build_dataset(
    paths: Iterable[str | Path],
    me: Sequence[str],
    settings: BuildConfig,
    renderer: TokenCounter,
    progress: Callable[[float, str], None] | None = None,
) -> BuildResult:
    """Run every stage up to the samples. Raises `EchoError` subclasses on bad input.

    ``progress(fraction, what)`` hears about each stage (the tab shows it as a progress bar).

    The exports are streamed twice and never held whole: a first pass only counts authors (who "me" is and
    whom to pseudonymize must be known before the first message is cleaned), the second cleans and scrubs
    message by message, keeping only the kept utterances.
    """
    report_progress = progress or (lambda fraction, what: None)
    report_progress(0.0, "reading the exports")
    paths = list(paths)
    file_reports: list[FileReport] = []
    same_channel = SameChannelCheck()  # one channel given in two formats would be trained on twice
    author_counts: Counter[Author] = Counter(
        m.author for m in same_channel.watch(read_exports(paths, settings.read, file_reports))
    )
    errors = [r.error for r in file_reports if r.error]
    if not author_counts:
        raise EmptyDatasetError("reading", {"files": len(file_reports), "unreadable": len(errors)})
    participants = participants_from_counts(author_counts)
    identity = resolve_identity(participants, me)

    cleaning_report = CleaningReport()
    scrubber = Scrubber(settings.privacy, people=_other_people(participants, identity))
    redactions = scrubber.new_report()
    utterances: list[Utterance] = []
    report_progress(0.3, f"cleaning and scrubbing {author_counts.total():,} messages")
    file_reports = []  # the second pass reports the same files again
    messages = read_exports(paths, settings.read, file_reports)
    for utterance in clean(messages, identity, settings.cleaning, cleaning_report):
        utterance.text = scrubber.scrub(utterance.text, redactions)
        if utterance.text:
            utterances.append(utterance)
    authors = _author_table(author_counts, utterances, identity)
    if not any(u.is_me for u in utterances):
        raise EmptyDatasetError("cleaning", cleaning_report.to_dict()["dropped"])

    conversations = [c for c in build_conversations(utterances, settings.conversations) if _has_me(c)]
    reply_index = _reply_index(utterances)
    me_name = _most_common([u.message.author.display_name for u in utterances if u.is_me])
    others = _ranked([u.message.author.display_name for u in utterances if not u.is_me])
    if settings.privacy.names:
        # Names outside message text too: "Name: " prefixes, reply quotes and the persona line.
        others = _ranked([scrubber.scrub(name) for name in others])
        reply_index = {key: (scrubber.scrub(who), text) for key, (who, text) in reply_index.items()}
        for conversation in conversations:
            for turn in conversation.turns:
                if not turn.is_me:
                    turn.speaker = scrubber.scrub(turn.speaker)
    system = persona_prompt(settings.dataset, me_name, others) if settings.dataset.persona else None

    held_out_start = _held_out_start(conversations, settings.dataset.eval_fraction)
    group_channels = _group_channels(conversations)
    builder = SampleBuilder(settings.dataset, renderer, system, reply_index)
    train: list[Sample] = []
    held_out: list[Sample] = []
    for number, conversation in enumerate(conversations):
        if number % 50 == 0:
            report_progress(
                0.5 + 0.5 * number / len(conversations), f"shaping samples ({number:,}/{len(conversations):,})"
            )
        samples = builder.build(conversation, number, conversation.channel_key in group_channels)
        (held_out if number >= held_out_start else train).extend(samples)
    if not train:
        raise EmptyDatasetError("shaping samples", builder.report.to_dict()["dropped_my_turns"])
    return BuildResult(
        train=train,
        held_out=held_out,
        conversations=conversations,
        eval_conversations=len(conversations) - held_out_start,
        participants=participants,
        identity=identity,
        me_name=me_name,
        system_prompt=system,
        file_reports=file_reports,
        cleaning=cleaning_report,
        redactions=redactions.to_dict(),
        samples=builder.report.to_dict(),
        renderer=renderer.description,
        authors=authors,
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


def _has_me(conversation: Conversation) -> bool:
    return any(t.is_me for t in conversation.turns)


def _other_people(participants: list[Participant], identity: Identity) -> list[list[str]]:
    """Everyone but me, each as the list of their names (for consistent pseudonyms)."""
    return [
        sorted(person.names | person.display_names)
        for person in participants
        if not (person.ids & identity.ids or person.name_keys() & identity.name_keys)
    ]


def _author_table(author_counts: Counter[Author], utterances: list[Utterance], identity: Identity) -> list[dict]:
    total: Counter[str] = Counter()
    for author, count in author_counts.items():
        total[author.display_name] += count
    kept: Counter[str] = Counter(u.message.author.display_name for u in utterances)
    mine = {author.display_name for author in author_counts if identity.matches(author)}
    return [{"name": n, "messages": c, "kept": kept.get(n, 0), "me": n in mine} for n, c in total.most_common()]


def _most_common(values: list[str]) -> str:
    return Counter(values).most_common(1)[0][0] if values else "me"


def _ranked(values: list[str]) -> list[str]:
    return [name for name, _ in Counter(values).most_common()]


def _reply_index(utterances: list[Utterance]) -> dict[str, tuple[str, str]]:
    wanted = {u.message.reply_to for u in utterances if u.message.reply_to}
    return {
        u.message.id: (u.message.author.display_name, u.text)
        for u in utterances
        if u.message.id is not None and u.message.id in wanted
    }


def _held_out_start(conversations: list[Conversation], fraction: float) -> int:
    """Index of the first held-out conversation: the latest ones holding ``fraction`` of my turns."""
    if fraction <= 0 or len(conversations) < 2:
        return len(conversations)
    mine = [sum(t.is_me for t in c.turns) for c in conversations]
    goal = fraction * sum(mine)
    taken = 0
    start = len(conversations)
    while start > 1 and taken < goal:
        start -= 1
        taken += mine[start]
    return start


def _group_channels(conversations: list[Conversation]) -> set[str]:
    others: dict[str, set[object]] = {}
    for conversation in conversations:
        speakers = {t.speaker_key for t in conversation.turns if not t.is_me}
        others.setdefault(conversation.channel_key, set()).update(speakers)
    return {key for key, speakers in others.items() if len(speakers) > 1}
