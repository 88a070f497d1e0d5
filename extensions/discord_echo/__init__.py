"""discord_echo: a DiscordChatExporter export in, a LoRA that writes like you out.

The stages, each its own module, in the order data flows:

    exports/        read every DCE format into `Message` records   (read_exports)
    inspection      per-file summaries                             (inspect_exports)
    participants    who is who; choosing "me"
    cleaning        what is dropped, counted by reason
    privacy         scrubbing of secrets and personal data
    conversations   sessions and turns
    dataset_builder samples within the token budget
    dataset_writer  the files the webui trainer reads
    pipeline        all of the above as one call                   (build_dataset, write_build)

Importing this package needs neither torch, gradio nor the webui.
"""

import sys

if __name__ != "discord_echo" and "discord_echo" not in sys.modules:
    # Imported as the webui's bundled extension `extensions.discord_echo` (before its script.py
    # runs): register under our own name, so the absolute `discord_echo.*` imports below and in
    # every submodule resolve to this folder.
    sys.modules["discord_echo"] = sys.modules[__name__]

from discord_echo.core.errors import EchoError  # noqa: E402
from discord_echo.core.messages import Author, Channel, Message  # noqa: E402
from discord_echo.ingest.exports import read_export, read_exports  # noqa: E402
from discord_echo.ingest.inspection import inspect_exports  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Author", "Channel", "EchoError", "Message", "inspect_exports", "read_export", "read_exports"]
