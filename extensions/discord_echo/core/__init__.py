"""Core: what every stage shares and nothing else. Errors, the Message record, safe file writes.

Imports nothing of the other stages.
"""
