"""discord_echo: a DiscordChatExporter export in, a LoRA that writes like you out.

The stages, each its own folder, in the order data flows (docs/architecture.md):

    core/        the `Message` record, errors, safe file writing
    ingest/      read every DCE format into `Message` records   (read_exports, inspect_exports)
    templates/   chat rendering and token counts as the webui trainer does them
    dataset/     participants, cleaning, privacy, conversations, samples, writer;
                 pipeline.py: all of them as one call           (build_dataset, write_build)
    train/       settings, hardware profiles, memory estimate, driver, webui and standalone hosts
    evaluate/    base vs tuned: comparer, metrics, style, report, chat character
    frontends/   the CLI, the standalone app, the webui tab

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
