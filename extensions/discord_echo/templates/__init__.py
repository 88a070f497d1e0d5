"""Stage 2, templates: rendering chat rows and counting tokens exactly as the webui trainer does.

Chat templates (the tokenizer's own), webui instruction templates, and the trainer's tokenization of a row with
only the assistant's tokens trained. Imports only core.
"""
