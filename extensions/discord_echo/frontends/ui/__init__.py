"""The Discord Echo tab: the same Gradio layout in the webui and in the standalone app."""
