"""Errors a user can act on. Every message names the file, the position when known, and a fix.

Library code raises these and never prints; each front end (CLI, tab) renders them in one
place. Any other exception escaping the library is a bug.
"""

from __future__ import annotations


class EchoError(Exception):
    """Base class of every error discord_echo raises on purpose."""


class UnsupportedExportError(EchoError):
    """The file is not a DiscordChatExporter export we can read."""

    def __init__(self, path: str, seen: str):
        self.path, self.seen = path, seen
        super().__init__(
            f"{path}: not a DiscordChatExporter export ({seen}). "
            "Export the channel again with DiscordChatExporter as JSON (best), CSV, TXT or HTML."
        )


class InputPathError(EchoError):
    """A given input path is not there, or is not a regular file (a FIFO or device): nothing to do with exports."""

    def __init__(self, path: str, missing: bool):
        self.path, self.missing = path, missing
        what = "no such file or folder; check the path" if missing else "not a regular file (a FIFO or device)"
        super().__init__(f"{path}: {what}; give an export file, a folder or a zip")


class ExportParseError(EchoError):
    """The file looks like an export but is broken at a known position."""

    def __init__(self, path: str, position: str | None, reason: str):
        self.path, self.position, self.reason = path, position, reason
        where = f"{path}: {position}" if position else path
        super().__init__(f"{where}: {reason}")


class ExportLimitError(EchoError):
    """An input is larger than a configured limit (zip bombs, oversized uploads)."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


class ConfigError(EchoError):
    """A setting has a value that cannot work."""

    def __init__(self, field: str, value: object, rule: str):
        self.field, self.value, self.rule = field, value, rule
        super().__init__(f"{field}={value!r}: {rule}")


class HostUnavailableError(EchoError):
    """The chosen trainer cannot run here now (packages missing, no model loaded, wrong loader)."""

    def __init__(self, host: str, reason: str):
        self.host, self.reason = host, reason
        super().__init__(f"the {host} trainer is not available: {reason}")


class TrainingError(EchoError):
    """A training run failed; the message is the trainer's, with a fix when one is known."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)
