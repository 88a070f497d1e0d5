"""Test-side name for `discord_echo.train.tiny_models` (the app builds its demo model with the same code)."""

from discord_echo.train.tiny_models import (  # noqa: F401
    CHATML,
    TINY_SPECIAL_TOKENS,
    TINY_VOCAB_SIZE,
    build_tiny_model,
    build_tiny_tokenizer,
    tiny_corpus,
)
