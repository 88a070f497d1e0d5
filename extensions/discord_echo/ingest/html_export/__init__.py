"""The HTML reader (dark and light, every markup since 2.15), streaming in batches cut at message starts."""
