"""Stage 1, ingest: every DiscordChatExporter format (JSON, HTML, CSV, TXT) into one `Message` stream.

`exports.read_exports` reads files, folders, zips and partitions; `inspection` summarises them. Imports only core.
"""
