"""The HTML reader (dark and light, every markup since 2.15), streaming one message group at a time."""
