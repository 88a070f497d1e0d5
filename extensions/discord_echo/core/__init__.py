"""Core: what every stage shares and nothing else.

Errors, the Message record, safe file writes, the config field helper (``fields.setting``), and
``peft_internals``: the one module that touches a library's private parts, with the reason and a test.
Imports nothing of the other stages.
"""
