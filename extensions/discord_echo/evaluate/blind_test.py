""""Which one is you?": my real reply and the echo's, shuffled, for held-out prompts; a person picks.

Numbers can say the echo is close; only a reader can say it passes for me. Each round shows the friend's
message and two replies in a seeded random order (so the real one is not always first, and a rerun with the
same seed asks the same questions). The echo *passes* a round when the judge picks the echo's reply as the
real one; a pass rate near 50 % means the two cannot be told apart, near 0 % that the echo is easy to spot.
Pure Python: the tab and the CLI both drive it, and the report keeps the result.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from discord_echo.core.errors import ConfigError
from discord_echo.evaluate.comparer import CompareRow


@dataclass(frozen=True)
class BlindRound:
    """One question: the friend's message and two replies, one of them mine, one the echo's."""

    prompt: str
    options: tuple[str, str]
    echo_option: int  # 0 or 1: which option the echo wrote (hidden from the judge)


@dataclass
class BlindTest:
    """Rounds and the judge's picks so far (``picks[i]``: the option chosen as "the real me" in round i)."""

    rounds: list[BlindRound]
    picks: list[int | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.picks:
            self.picks = [None] * len(self.rounds)

    def pick(self, round_index: int, option: int) -> None:
        """Record that the judge took ``option`` (0 or 1) of round ``round_index`` as the real reply."""
        if not 0 <= round_index < len(self.rounds):
            raise ConfigError("round", round_index, f"must be between 0 and {len(self.rounds) - 1}")
        if option not in (0, 1):
            raise ConfigError("option", option, "must be 0 (the first reply) or 1 (the second)")
        self.picks[round_index] = option

    @property
    def answered(self) -> int:
        return sum(p is not None for p in self.picks)

    @property
    def passed(self) -> int:
        """Rounds in which the echo's reply was taken for mine."""
        return sum(p == r.echo_option for p, r in zip(self.picks, self.rounds, strict=True) if p is not None)

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.answered if self.answered else None

    def summary(self) -> str:
        """One line for the tab and the report."""
        if not self.answered:
            return f"Blind test: {len(self.rounds)} rounds, none answered yet."
        return (
            f"Blind test: the echo passed for you in {self.passed} of {self.answered} answered rounds "
            f"({self.pass_rate:.0%}; 50% means indistinguishable)."
        )


def blind_test(rows: Sequence[CompareRow], seed: int = 0) -> BlindTest:
    """Rounds from Compare rows that have both a real and a tuned reply, each in a seeded random order."""
    rng = random.Random(seed)
    rounds = []
    for row in rows:
        if not row.real.strip() or not row.tuned.strip():
            continue  # a typed prompt has no real reply; an empty echo is no contest
        echo_first = rng.random() < 0.5
        options = (row.tuned, row.real) if echo_first else (row.real, row.tuned)
        rounds.append(BlindRound(row.prompt, options, 0 if echo_first else 1))
    if not rounds:
        raise ConfigError("rows", len(rows), "no compared reply has both a real and an echo reply: run Compare first")
    return BlindTest(rounds)
