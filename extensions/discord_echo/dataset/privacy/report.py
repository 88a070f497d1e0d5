"""What the privacy scrub removed: counts per kind and a few masked examples, safe to show or save.

`RedactionReport` takes each removed value from `privacy.Scrubber` and keeps only a count and,
for the first few, a masked form (``j***@e***.com``, ``+1 (***) ***-**67``, ``sk-***...***9f``)
so the user can see what kind of thing was found without the report itself leaking it.
Reports from many texts (or many files) merge into one; `to_dict` gives plain JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

KINDS = ("email", "phone", "ip", "credit_card", "discord_token", "api_key", "url", "names")

_KEY_PREFIX = re.compile(
    r"sk-ant-|sk-(?:proj|svcacct|admin|None)-|sk-|gh[pousr]_|github_pat_|AKIA|ASIA|AIza|xox[baprs]-"
    r"|[spr]k_(?:live|test)_|hf_|eyJ|mfa\.|-----BEGIN [A-Z0-9 ]*-----"
)


def _mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    labels = domain.split(".")
    return f"{local[:1]}***@{labels[0][:1]}***.{labels[-1]}"


def _mask_phone(value: str) -> str:
    """Keep a leading +country code and the last two digits; star the other digits."""
    # A separated country code (+44 20 ..., 0049 30 ...) says little; keep it. Country codes
    # have 1-3 digits, so a longer leading run is the whole number and is starred.
    prefix = re.match(r"(?:\+|00)(\d{1,3})(?!\d)", value)
    keep_head = prefix.end() if prefix else 0
    total = sum(ch.isdigit() for ch in value)
    out, seen = [], 0
    for i, ch in enumerate(value):
        if ch.isdigit():
            seen += 1
            out.append(ch if i < keep_head or seen > total - 2 else "*")
        else:
            out.append(ch)
    return "".join(out)


def _mask_card(value: str) -> str:
    total = sum(ch.isdigit() for ch in value)
    out, seen = [], 0
    for ch in value:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - 4 else "*")
        else:
            out.append(ch)
    return "".join(out)


def _mask_ip(value: str) -> str:
    if ":" in value:
        return value.split(":", 1)[0] + ":***"
    return value.split(".", 1)[0] + ".***.***.***"


def _mask_secret(value: str) -> str:
    prefix = _KEY_PREFIX.match(value)
    head = prefix.group() if prefix else value[:2]
    tail = "" if value.startswith("-----") else value.rstrip()[-2:]
    return f"{head}***...***{tail}"


def _mask_url(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    host = (rest if sep else scheme).split("/", 1)[0]
    labels = host.split(".")
    return f"{scheme + sep if sep else ''}{labels[0][:1]}***.{labels[-1]}/***"


def _mask_name(value: str) -> str:
    return value.lstrip("@")[:1] + "***"


_MASKS = {
    "email": _mask_email,
    "phone": _mask_phone,
    "ip": _mask_ip,
    "credit_card": _mask_card,
    "discord_token": _mask_secret,
    "api_key": _mask_secret,
    "url": _mask_url,
    "names": _mask_name,
}


def mask(kind: str, value: str) -> str:
    """A form of `value` that shows its shape but not enough to recover it."""
    return _MASKS[kind](value)


@dataclass
class RedactionReport:
    """Counts and masked examples of what was replaced, per kind; merge reports with `merge`."""

    max_examples: int = 3
    texts: int = 0
    changed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, value: str) -> None:
        """Record one removed `value` of `kind` (only its masked form is kept)."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self._keep(kind, mask(kind, value))

    def _keep(self, kind: str, masked: str) -> None:
        kept = self.examples.setdefault(kind, [])
        if len(kept) < self.max_examples and masked not in kept:
            kept.append(masked)

    @property
    def total(self) -> int:
        """Values replaced, all kinds together."""
        return sum(self.counts.values())

    def merge(self, other: RedactionReport) -> RedactionReport:
        """Add `other`'s counts and examples to this report (in place) and return it."""
        self.texts += other.texts
        self.changed += other.changed
        for kind, n in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n
        for kind, masked in other.examples.items():
            for example in masked:
                self._keep(kind, example)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; kinds in a fixed order, none missing."""
        return {
            "texts": self.texts,
            "changed": self.changed,
            "total": self.total,
            "counts": {kind: self.counts.get(kind, 0) for kind in KINDS},
            "examples": {kind: list(self.examples.get(kind, [])) for kind in KINDS},
        }
