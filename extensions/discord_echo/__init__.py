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

from discord_echo.errors import EchoError
from discord_echo.exports import read_export, read_exports
from discord_echo.inspection import inspect_exports
from discord_echo.messages import Author, Channel, Message

__version__ = "0.1.0"

__all__ = ["Author", "Channel", "EchoError", "Message", "inspect_exports", "read_export", "read_exports"]
