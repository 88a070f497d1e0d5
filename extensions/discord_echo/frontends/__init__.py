"""Front ends: the `discord-echo` CLI, the standalone app, the webui glue and the tab itself (`ui/`).

The only code that imports gradio or parses arguments; no stage imports a front end.
"""
