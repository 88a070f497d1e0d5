"""``ReadConfig``: how exports are read (stage 1, ingest), each default and its help text written once, here.

Every stage keeps its own config dataclass next to the code that uses it: ``CleaningConfig``
(dataset/cleaning.py), ``PrivacyConfig`` (dataset/privacy/scrubber.py), ``ConversationConfig``
(dataset/conversations.py), ``DatasetConfig`` (dataset/samples.py), all five together as
``BuildConfig`` (dataset/pipeline.py), ``TrainConfig`` (train/config.py) and
``CompareConfig`` (evaluate/comparer.py). All build their fields with
``discord_echo.core.fields.setting``, and the front ends (CLI flags, tab widgets) are generated
from those fields, so a default never differs between them. ``__post_init__`` validates, naming
the field and the bad value.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from discord_echo.core.errors import ConfigError
from discord_echo.core.fields import setting


@dataclass(frozen=True)
class ReadConfig:
    """How exports are read (stage 1, ingest)."""

    timezone: str = setting(
        "UTC",
        "Time zone of displayed dates",
        "TXT, HTML and CSV exports before 2.42.3 show dates in the exporting "
        "machine's local time without saying which; give that IANA zone (e.g. "
        "Europe/Berlin). JSON and HTML message ids carry exact UTC times and ignore this.",
    )
    day_first: bool | None = setting(
        None,
        "Dates are day-first",
        "Whether numeric dates like 03/04/2024 are day/month. Default: learn it "
        "from the file (a first number above 12 decides), else month-first (en-US).",
    )
    max_file_mb: int = setting(
        4096,
        "Largest export file (MB)",
        "Refuse single files (or zip members) larger than this, before reading.",
    )
    max_zip_ratio: int = setting(
        200,
        "Largest zip compression ratio",
        "Refuse zip members that claim to expand more than this many times "
        "(zip bombs), one member or all of an archive's export files together. "
        "Real exports compress about 5-20x.",
    )
    max_zip_members: int = setting(
        10_000,
        "Most export files in one zip",
        "Refuse a zip archive holding more export files than this, before reading any "
        "(a server export has one file per channel and partition; media files do not count).",
    )
    max_zip_total_mb: int = setting(
        4096,
        "Largest zip contents (MB)",
        "Refuse a zip archive whose export files together unpack to more than this, before reading.",
    )

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError("timezone", self.timezone, "must be an IANA zone such as UTC or Europe/Berlin") from exc
        if self.max_file_mb <= 0:
            raise ConfigError("max_file_mb", self.max_file_mb, "must be positive")
        for name in ("max_zip_ratio", "max_zip_members", "max_zip_total_mb"):
            if getattr(self, name) <= 0:
                raise ConfigError(name, getattr(self, name), "must be positive")

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
