"""Where secrets and personal data sit in a chat message: one ``find_*`` function per kind.

Each function takes a message text and gives the ``(start, end)`` spans of one kind, sorted and
non-overlapping; it never changes the text. `scrubber.py` decides the order the kinds run in and
what replaces them. Every function starts with a cheap test (a character or digit count) so
the many chat lines that hold nothing cost almost no time.

Choices that trade recall for precision are written where they are made; the labelled corpus in
``tests/data/privacy_corpus.jsonl`` measures both.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher, PhoneNumberType

Span = tuple[int, int]

# --- secrets ---------------------------------------------------------------------------------

# Discord tokens: base64 of the user's snowflake (17-19 ASCII digits, so it starts with M, N or
# O), a 6-char timestamp and a 27+ char HMAC; and the older 2FA ``mfa.`` tokens.
_DISCORD_TOKEN = re.compile(
    r"(?<![\w-])(?:[MNO][A-Za-z0-9_-]{22,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}"
    r"|mfa\.[A-Za-z0-9_-]{20,})(?![\w-])"
)
_TOKEN_MIDDLE = re.compile(r"\.[A-Za-z0-9_-]{6}\.")

# Published key shapes (vendor docs). Lengths are minimums, not exact, so a future longer key
# still matches. OpenAI's legacy ``sk-`` keys have no hyphens after the prefix, which keeps
# hyphenated words such as "sk-8r" or "sk-ill-issue" out.
_PRIVATE_KEY_LABEL = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?"
_API_KEY = re.compile(
    # PEM blocks span lines; an unterminated block (a message cut off) is redacted to the end.
    rf"-----BEGIN {_PRIVATE_KEY_LABEL}-----(?s:.*?-----END {_PRIVATE_KEY_LABEL}-----|.*\Z)"
    r"|\bsk-ant-[A-Za-z0-9_-]{20,}"
    r"|\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}"
    r"|\bsk-[A-Za-z0-9]{20,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"
    r"|\bgithub_pat_[A-Za-z0-9_]{30,}"
    # An AWS secret access key: 40 characters of base64 after its usual names (aws_secret_access_key=,
    # SecretAccessKey:, "secret": ...) or right after an access key id (before the id alone, so both go).
    r"|(?:(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key|\bsecret\b)|\b(?:AKIA|ASIA)[0-9A-Z]{16})"
    r"[\"']?\s*[:=,]?\s*[\"']?\s*(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bAIza[0-9A-Za-z_-]{35}"
    r"|\bxox[baprs]-[A-Za-z0-9-]{10,}"
    r"|\b[spr]k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|\bhf_[A-Za-z0-9]{30,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
)
_API_KEY_HINTS = (
    "sk-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "AKIA",
    "ASIA",
    "ecret",
    "ECRET",
    "AIza",
    "xox",
    "k_live_",
    "k_test_",
    "hf_",
    "eyJ",
    "-----BEGIN",
)
# Every hint above holds one of these: "-" (sk-, -----BEGIN), "_" (gh?_, github_pat_, k_live_, k_test_, hf_),
# "A" (AKIA, ASIA, AIza), "x" (xox), "J" (eyJ), or is "ecret" / "ECRET" itself. Most chat lines hold none,
# and seven substring tests there cost a fraction of the eighteen.
_API_KEY_MARKS = ("-", "_", "A", "x", "J", "ecret", "ECRET")


# A webhook URL is its own credential: anyone holding it can post as the webhook. The id and token go.
_WEBHOOK = re.compile(
    r"\bhttps?://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/(?:v\d+/)?webhooks/\d{15,21}/[A-Za-z0-9_-]{20,}",
    re.IGNORECASE,
)


def find_discord_tokens(text: str) -> list[Span]:
    """Discord bot/user tokens (``<base64 id>.<6>.<27+>``), ``mfa.`` tokens and webhook URLs (with their token)."""
    if len(text) < 24 or "." not in text:
        return []
    # No lower-case mapping makes a "/", so a text without one needs no lower-cased copy.
    lowered = text.lower() if "/" in text else ""
    if "mfa." not in text and not _TOKEN_MIDDLE.search(text) and "ebhooks/" not in lowered:
        return []  # a token's ".xxxxxx." middle part is rare in chat: this scan is cheaper than the full pattern
    spans = [m.span() for m in _WEBHOOK.finditer(text)] if "webhooks/" in lowered else []
    spans += [m.span() for m in _DISCORD_TOKEN.finditer(text) if not any(s <= m.start() < e for s, e in spans)]
    return sorted(spans)


def find_api_keys(text: str) -> list[Span]:
    """Vendor API keys (OpenAI, Anthropic, GitHub, AWS, Google, Slack, Stripe, Hugging Face),
    JWTs and PEM private-key blocks."""
    for mark in _API_KEY_MARKS:  # a text without any mark holds no hint (see _API_KEY_MARKS)
        if mark in text:
            break
    else:
        return []
    for hint in _API_KEY_HINTS:
        if hint in text:
            break
    else:
        return []
    spans = []
    for m in _API_KEY.finditer(text):
        start, end = m.span()
        secret = _AWS_SECRET_TAIL.search(m.group())
        if secret and not m.group().startswith(("AKIA", "ASIA")):  # keep the label ("secret:"), take the key
            start = end - len(secret.group())
        elif secret:  # an access key id and its secret: two keys, one span each
            spans.append((start, start + 20))
            start = end - len(secret.group())
        spans.append((start, end))
    return spans


_AWS_SECRET_TAIL = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}\Z")


# --- addresses -------------------------------------------------------------------------------

# Internationalised addresses too (user@bücher.de, 用户@例子.中国): letters of any script in both parts.
_EMAIL = re.compile(r"[\w.%+-]+@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[^\W\d_]{2,24}|xn--[a-z0-9-]{2,59})(?![\w-])")

# Discord wraps links in <...> to stop embeds; markdown wraps them in (...): both excluded.
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\"*_~"
_OPENERS = {")": "(", "]": "[", "}": "{"}


# Not addresses, though shaped like one: a git/ssh remote (git@github.com:org/repo.git) and the login of a
# URL (https://git@github.com/org/repo), both seen in real exports (benchmarks/privacy_false_positives.py).
_SCP_REMOTE = re.compile(r":[\w.~-]*/")


def find_emails(text: str) -> list[Span]:
    """Email addresses, including plus-addressing, subdomains and upper case; not ``user@host:path``
    remotes nor the ``user@`` login of a URL."""
    if "@" not in text:
        return []
    return [
        m.span()
        for m in _EMAIL.finditer(text)
        if not (_SCP_REMOTE.match(text, m.end()) or text.endswith("://", 0, m.start()))
    ]


def find_urls(text: str) -> list[Span]:
    """http(s)/ftp URLs and bare ``www.`` links, without trailing sentence punctuation."""
    # No lower-case mapping makes a ".", so a text without one holds no "www." in any case.
    if "://" not in text and ("." not in text or "www." not in text.lower()):
        return []
    spans = []
    for m in _URL.finditer(text):
        start, end = m.span()
        while end > start:
            last = text[end - 1]
            # A closing bracket ends the URL only when the URL did not open it (markdown links).
            opener = _OPENERS.get(last)
            if last in _URL_TRAILING or (opener and text.count(last, start, end) > text.count(opener, start, end)):
                end -= 1
            else:
                break
        spans.append((start, end))
    return spans


def url_origin(url: str) -> str:
    """``scheme://host`` of a URL (``www.host`` for bare links): no path, query, port or login."""
    if url.lower().startswith("www."):
        return url.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0]
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # malformed bracketed host; keep nothing rather than guess
        return url.split("://", 1)[0] + "://"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}"


# --- IP addresses ----------------------------------------------------------------------------

# Dotted quads that are part of a longer dotted number (1.2.3.4.5, 10.0.19045.3803) are not
# addresses: no digit-dot before, no dot-digit or word character after.
_IPV4 = re.compile(r"(?<!\w)(?<!\d\.)\d{1,3}(?:\.\d{1,3}){3}(?!\w|\.\d)")
# Generous IPv6 candidates; `ipaddress` decides. A trailing dotted quad covers ::ffff:1.2.3.4.
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?(?:%[0-9A-Za-z.]+)?(?![\w:])"
)
# "version 10.0.0.1", "build 1.0.2.15": a quad right after these words is a version number.
_VERSION_WORD = re.compile(
    r"(?:\bv|\bver|\bversion|\bbuild|\brelease|\bfirmware|\bfw|\bpatch|\bupdate|\bdriver|\bbios)[\s:=#.-]*\Z",
    re.IGNORECASE,
)


# "1.12.0.30 firmware", "(build 10.0.19045.1)": a word after the quad that makes it a version.
_VERSION_AFTER = re.compile(
    r"[\s)\]-]*(?:firmware|fw\b|version|build|release|update|patch|driver|bios|beta|alpha|rc\d|stable)", re.I
)
_ADDRESS_WORD = re.compile(
    r"(?:\bip|\bdns|\bserver|\bping|\bhost|\bresolver|\bgateway|\b\w*node|\bconnect|\bbind|\bpeer|\baddr)\w*"
    r"(?:\s+(?:to|is|at|on|of|=))?[\s:=@\"']*\Z",
    re.I,
)
_RESOLVERS = frozenset({"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9"} | {f"4.2.2.{n}" for n in range(1, 7)})


def _is_ipv4(text: str, start: int, candidate: str) -> bool:
    try:
        address = ipaddress.IPv4Address(candidate)  # rejects octets > 255 and leading zeros (01.02.03.04)
    except ValueError:
        return False
    # 127.0.0.1 and 0.0.0.0 are nobody's address; nor are 240.0.0.0/4 (reserved), which holds the netmasks
    # people paste (255.255.255.0) and the broadcast address.
    if address.is_loopback or address.is_unspecified or address.is_reserved:
        return False
    # Quads of one digit then at most two digits each are mostly section or version numbers (1.2.3.4,
    # 6.3.6.6, and the firmware versions of real exports: "updated to 1.14.0.1", "now at 1.0.29.1").
    # Taken as addresses: the public resolvers people paste (8.8.4.4, 1.1.1.1, 9.9.9.9, 4.2.2.2), and any
    # public one right after "ip", "dns", "server", "ping", "host", "resolver", "gateway", "addnode",
    # "connect", "bind", "peer" or "addr" (with "to", "is", "at" between). 5.9.102.210 is an address.
    first, *rest = candidate.split(".")
    if len(first) == 1 and all(len(octet) <= 2 for octet in rest):
        named = _ADDRESS_WORD.search(text, max(0, start - 24), start)
        if not (candidate in _RESOLVERS or (address.is_global and named)):
            return False
    end = start + len(candidate)
    return not (_VERSION_WORD.search(text, max(0, start - 24), start) or _VERSION_AFTER.match(text, end))


def _ipv6_length(candidate: str) -> int:
    """Length of the valid IPv6 address `candidate` starts with (0 if none)."""
    address = candidate.split("%", 1)[0]
    if address.endswith(":") and not address.endswith("::"):  # "... is 2001:db8::1: nice"
        address, candidate = address[:-1], candidate[:-1]
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return 0
    groups = [g for g in address.split(":") if g]
    # "::", "::1" and slice syntax such as a[1::2] are not anybody's address; real ones have
    # several groups or a full 4-digit group (fe80::1).
    if len(groups) < 2 or (len(groups) < 4 and not any(len(g) == 4 for g in groups)):
        return 0
    mapped = ipaddress.IPv6Address(address).ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    if mapped is not None and (mapped.is_loopback or mapped.is_unspecified):
        return 0
    return len(candidate)


def find_ips(text: str) -> list[Span]:
    """IPv4 and IPv6 addresses, validated by `ipaddress`; version-like quads are skipped."""
    spans: list[Span] = []
    if ":" in text and text.count(":") >= 2:  # most lines have no ":"; the test is cheaper than the count
        for m in _IPV6.finditer(text):
            length = _ipv6_length(m.group())
            if length:
                spans.append((m.start(), m.start() + length))
    if text.count(".") >= 3:
        taken = spans[:]
        for m in _IPV4.finditer(text):
            start, end = m.span()
            if _is_ipv4(text, start, m.group()) and not any(s < end and start < e for s, e in taken):
                spans.append((start, end))
    return sorted(spans)


# --- payment cards ---------------------------------------------------------------------------

# Grouped by spaces, dashes or dots (4111.1111.1111.1111); one separator throughout.
_CARD = re.compile(r"(?<!\w)(?<!\d[.,])\d{4,19}(?:(?P<sep>[ .-])\d{1,6}(?:(?P=sep)\d{1,6}){0,4})?(?!\w|\.\d)")
_GROUPING = re.compile(r"\d+")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _brand_ok(digits: str) -> bool:
    """Issuer prefix and length agree (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay).

    Lengths 17 and 18 are refused outright: they are the lengths of Discord snowflake ids
    (2015-2022), which pass Luhn one time in ten; real 17/18-digit cards are vanishingly rare.
    19-digit snowflakes start with 1, which no card brand does.
    """
    n = len(digits)
    if n in (17, 18):
        return False
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16
    if two in (34, 37):
        return n == 15
    if two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:
        return n in (14, 16)
    if four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649 or two == 62:
        return n in (16, 19)
    if 3528 <= four <= 3589:
        return n in (16, 19)
    return False


def _grouping_ok(lengths: list[int]) -> bool:
    """One unbroken run, 4-4-4-4(-1..3) style, or Amex/Diners 4-6-5 / 4-6-4."""
    if len(lengths) == 1:
        return True
    if lengths in ([4, 6, 5], [4, 6, 4]):
        return True
    return len(lengths) >= 3 and all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4


def _link_spans(text: str) -> tuple[list[Span], list[Span]]:
    """Links whose digits are ids (issue numbers, listings, posts), not phones or cards; and WhatsApp's
    click-to-chat links (wa.me/<number>), whose number is a phone."""
    ids: list[Span] = []
    chats: list[Span] = []
    for start, end in find_urls(text):
        (chats if _CHAT_LINK.match(text, start, end) else ids).append((start, end))
    return ids, chats


_CHAT_LINK = re.compile(r"(?i)(?:https?://)?(?:www\.)?(?:wa\.me|(?:api\.)?whatsapp\.com)/")


def _inside(start: int, end: int, spans: list[Span]) -> bool:
    return any(s < end and start < e for s, e in spans)


def find_cards(text: str) -> list[Span]:
    """Payment card numbers: 13-19 digits, optionally grouped by spaces or dashes, Luhn-valid,
    with an issuer prefix that fits the length. Trailing groups that are not part of the number
    (a CVV, a year) are dropped before giving up. Not inside links (a 19-digit post id in a URL)."""
    # A card is 13+ digits that `_CARD` reads with \d; each of those is a `str.isdigit` character, which
    # `has_digits` counts. Most chat lines have none, and the count is cheaper than the regex scan.
    if not has_digits(text, 13):
        return []
    spans: list[Span] = []
    links: list[Span] | None = None
    for m in _CARD.finditer(text):
        groups = list(_GROUPING.finditer(m.group()))
        for count in range(len(groups), 0, -1):
            digits = "".join(g.group() for g in groups[:count])
            if len(digits) < 13:
                break
            if (
                len(digits) <= 19
                and _grouping_ok([len(g.group()) for g in groups[:count]])
                and _brand_ok(digits)
                and _luhn_ok(digits)
            ):
                end = m.start() + groups[count - 1].end()
                links = _link_spans(text)[0] if links is None else links
                if not _inside(m.start(), end, links):
                    spans.append((m.start(), end))
                break
    return spans


# --- phone numbers ---------------------------------------------------------------------------

# "0044 20 ..." is how most of the world dials abroad; the matcher only knows the default
# region's exit code (011 for US), so "00" becomes " +" (same length, offsets unchanged).
# Not after a digit and a separator: "0176 00101375" is one number, not a "+1..." inside one.
_EXIT_00 = re.compile(r"(?<![\w+])(?<!\d[ .-])00(?=[1-9])")
_DIGIT_RUN = re.compile(r"\d+")
MIN_PHONE_DIGITS = 7


# National formats of other countries than `region`: a number written with its trunk prefix (020 7946 0958,
# 030 12345678, 01 23 45 67 89, 8 (495) 123-45-67, 06 12345678) or as a NANP "(415) 555-2671". The cheap
# regex finds such candidates; only those are handed to libphonenumber, for each region below in turn.
_NATIONAL = re.compile(
    r"(?<![\w+.,/:#-])(?:0\d|\(0\d{1,4}\)|8 ?\(\d{3,4}\)|\(\d{3}\))[\d ().-]{5,15}\d(?![\w.,/:]\d|[\w-])"
)
# Where most Discord users live (and every region whose national prefix is 0 or 8 among the 40 most
# populous countries): tried in this order; a candidate is a phone when it is a valid number of one.
NATIONAL_REGIONS = (
    "US", "GB", "DE", "FR", "NL", "RU", "IN", "BR", "ES", "IT", "PL", "TR", "AU", "JP", "KR", "UA", "SE",
    "NO", "DK", "FI", "BE", "AT", "CH", "IE", "PT", "CZ", "NZ", "ZA", "PH", "ID", "MX", "AR", "EG", "NG",
    "PK", "BD", "VN", "TH", "MY", "IR",
)  # fmt: skip


def has_digits(text: str, at_least: int) -> bool:
    """True when ``text`` holds ``at_least`` digits of any script (libphonenumber reads fullwidth and
    Arabic-Indic digits too). This check runs on every message of a build, so no Python loop runs over the
    characters: ASCII text, most chat lines, is first tested for any digit at all (most lines have none)
    and then counted by ten C-level counts (in ASCII text the ASCII digits are the only ``str.isdigit`` ones);
    other text by ``str.isdigit`` mapped over it."""
    if text.isascii():
        return at_least <= 0 or (_has_ascii_digit(text) and sum(map(text.count, "0123456789")) >= at_least)
    return sum(map(str.isdigit, text)) >= at_least


def _has_ascii_digit(text: str) -> bool:
    # Ten substring tests (each a C-level memchr) beat one regex scan for [0-9] on chat-length lines.
    return (
        "0" in text or "1" in text or "2" in text or "3" in text or "4" in text
        or "5" in text or "6" in text or "7" in text or "8" in text or "9" in text
    )  # fmt: skip


def _national_phone(candidate: str, regions: tuple[str, ...]) -> bool:
    digits = sum(ch.isdigit() for ch in candidate)
    if not 9 <= digits <= 12 or sum(len(g) == 1 for g in _DIGIT_RUN.findall(candidate)) > 1:
        return False
    if not re.search(r"[ ().-]", candidate) and not (candidate.startswith("0") and digits in (10, 11)):
        return False  # an unbroken digit run is a phone only as 0 + 9-10 digits (0612345678)
    for region in regions:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number_for_region(number, region):
            return not _is_pager(number)
    return False


def _valid_international(digits: str) -> bool:
    """Whether `digits` (no + sign) are a valid number with their country code, as WhatsApp links hold them."""
    if not 8 <= len(digits) <= 15:
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse("+" + digits, None))
    except phonenumbers.NumberParseException:
        return False


def _is_pager(number: phonenumbers.PhoneNumber) -> bool:
    """Pager ranges (German 016x 8-digit numbers among them) are all but unused; prices such as "1640 1660"
    and counters are valid pager numbers of DE."""
    return phonenumbers.number_type(number) == PhoneNumberType.PAGER


# Where a number sits says more than its digits. Each rule below removed a class of false positives
# measured on 270k real Discord messages (benchmarks/privacy_false_positives.py, benchmarks/README.md);
# the labelled corpus checks that no promised phone is lost.
# Right after a word character, a path, a decimal point, a sign, a time (19:44:09.557068, -123.0877448) or
# in Discord's timestamp markup (<t:1723182646:R>):
_PHONE_BEFORE = re.compile(r"(?:[\w.,/\\#@$%&=~^|-]|\d:\s?|<t:)\Z")
_SPACED_NUMBER_BEFORE = re.compile(r"\d\s+\Z")  # "4989484820 4586834365 ...": digits of a constant
_LISTED_NUMBER_BEFORE = re.compile(r"(?<!\d)(\d+)\s*[,;]\s*\Z")
_NUMBER_AFTER = re.compile(r"\s+\d|\s*[,;]\s*(\d+)(?!\d)|\s*[\]}]")
# Right before a decimal point, a path or the rest of an id (2019/000057, uuid 02744126-bf1b-...):
_PHONE_AFTER = re.compile(r"[.,:/]\d|-\w")
# Dates inside the match: "(31.08.2019 20:00", "16-12-2025 630 repeaters".
_DATE = re.compile(r"(?<!\d)(?:(?:19|20)\d\d[-./]\d\d?[-./]\d\d?|\d\d?[-./]\d\d?[-./](?:19|20)\d\d)(?!\d)")
# A decimal number: 50.76642938 KMD, [3175.158743] in a kernel log, 49.8235078 in coordinates.
_DECIMAL = re.compile(r"[\[(]?\d+[.,]\d+")
# An unbroken digit run (no + or separators) is an id, a counter or a timestamp when it is one of a list
# of numbers ([4175885511, 198107718], "3104908374 816061 coins"; a list of phone-length numbers,
# "4155552671, 4155552672", is phones), the value of a key ("size_on_disk": 5054396460, tag=2202758099)
# or in a code block or inline code (pasted logs and JSON) ...
_RUN_BEFORE = re.compile(r"(?:[\[{]\s*|[\"'\])]\s*[:=]\s*[\"']?|\w=\s*[\"']?)\Z")
# ... unless the key names a phone (phone=4155552671, "tel": "4155552671").
_PHONE_KEY = re.compile(r"(?i:phone|tel|mobile|cell|whatsapp|sms|fax|number)\w*[\"']?\s*[:=]\s*[\"']?\Z")
# ... or right after a word that names it as something else ("crc 2768625435", "timestamp: 1762838527").
_ID_WORD = re.compile(
    r"(?i)\b(?:crc\d*|hash|checksum|u?u?id|pid|txid|tx|block|height|nonce|seed|magic|size|bytes|ts|timestamp|time"
    r"|epoch|session|order|invoice|ticket|issue|pr|build|port)\W{0,3}\Z"
)
# Unbroken runs under 10 digits (04000000, 16425972 total) are a phone only after a word that says so.
_PHONE_CUE = re.compile(
    r"(?i)\b(?:phone|tel|mobile?|cell|call|ring|text|sms|whatsapp|signal|number|nummer|num[eé]ro|ph|fax|contact)"
)
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.DOTALL)


def _listed(text: str, start: int, end: int) -> bool:
    """Whether the unbroken run at ``text[start:end]`` is one of a list of numbers other than phones."""
    before = text[max(0, start - 24) : start]
    if _SPACED_NUMBER_BEFORE.search(before):
        return True
    listed = _LISTED_NUMBER_BEFORE.search(before)
    if listed and not 10 <= len(listed.group(1)) <= 11:
        return True
    after = _NUMBER_AFTER.match(text, end)
    return bool(after) and not (after.group(1) and 10 <= len(after.group(1)) <= 11)


def _phone_in_context(text: str, start: int, end: int, links: tuple[list[Span], list[Span]], code: list[Span]) -> bool:
    """False when the number at ``text[start:end]`` is, by its surroundings or shape, not a phone.

    International forms (``+CC``, ``00CC``) are phones by intent and pass every rule but the ones about
    what touches them, links and dates; national forms must also not look like a decimal, a version, a
    short code or (unbroken runs) an id in code. Numbers in WhatsApp links are phones.
    """
    ids, chats = links
    if _inside(start, end, chats):
        return True
    raw = text[start:end]
    before = text[max(0, start - 40) : start]
    if (
        (_PHONE_BEFORE.search(before[-3:]) and not _PHONE_KEY.search(before))
        or _PHONE_AFTER.match(text, end)
        or _inside(start, end, ids)
        or _DATE.search(raw)
    ):
        return False
    if raw.startswith(("+", "00")):
        return True
    groups = _DIGIT_RUN.findall(raw)
    if sum(map(len, groups)) < MIN_PHONE_DIGITS or _DECIMAL.fullmatch(raw):
        return False
    separators = set(re.sub(r"[\d()\[\]]", "", raw))
    if "." in separators and (len(separators) > 1 or any(len(g) == 1 for g in groups[1:])):
        return False  # 143.0.3650.139 (a browser version), 20181.49 1.55 (a table of prices)
    if max(map(len, groups)) <= 2 and not raw.lstrip("([ ").startswith("0"):  # 81-25-92-25-81: a trace path
        return False
    if len(groups) == 1:
        if (
            raw[0] in "[{"
            or _listed(text, start, end)
            or _ID_WORD.search(before)
            or (_RUN_BEFORE.search(before) and not _PHONE_KEY.search(before))
        ):
            return False
        if len(groups[0]) < 10 and not _PHONE_CUE.search(before):
            return False
        if _inside(start, end, code):
            return False
    return True


def find_phones(text: str, region: str = "US") -> list[Span]:
    """Phone numbers valid for their country (libphonenumber, Leniency.VALID): national formats
    of `region`, national formats (with their trunk prefix) of the `NATIONAL_REGIONS`, and
    ``+CC`` / ``00CC`` international forms of any country; not numbers that their surroundings show
    to be something else (`_phone_in_context`)."""
    if not has_digits(text, MIN_PHONE_DIGITS):  # most chat lines: libphonenumber never runs
        return []
    links = _link_spans(text)
    code = [m.span() for m in _CODE.finditer(text)] if "`" in text else []
    spans = [(s, e) for s, e in _find_phones(text, region) if _phone_in_context(text, s, e, links, code)]
    for start, end in links[1]:  # wa.me/<number> holds the number in international form, whatever the region
        for m in _DIGIT_RUN.finditer(text, start, end):
            if not _inside(*m.span(), spans) and _valid_international(m.group()):
                spans.append(m.span())
    others = tuple(r for r in NATIONAL_REGIONS if r != region)
    for m in _NATIONAL.finditer(text):
        start, end = m.span()
        while end > start and text[end - 1] in " .-":
            end -= 1
        if (
            not any(s < end and start < e for s, e in spans)
            and _national_phone(text[start:end], others)
            and _phone_in_context(text, start, end, links, code)
        ):
            spans.append((start, end))
    return sorted(spans)


def _find_phones(text: str, region: str) -> list[Span]:
    probe = _EXIT_00.sub(" +", text) if "00" in text else text
    spans = []
    for m in PhoneNumberMatcher(probe, region, leniency=Leniency.VALID):
        # "count 1 2 3 4 5 6 7 8 9 10" is a valid +1 number to libphonenumber; real numbers have
        # at most two one-digit groups (+33 (0)6 12 34 56 78).
        if sum(len(group) == 1 for group in _DIGIT_RUN.findall(m.raw_string)) > 2 or _is_pager(m.number):
            continue
        start = m.start - 1 if probe is not text and text.startswith("00", m.start - 1) else m.start
        spans.append((start, m.end))
    return spans


def is_phone_region(region: str) -> bool:
    """True if libphonenumber knows `region` (ISO 3166 alpha-2, upper case)."""
    return region in phonenumbers.SUPPORTED_REGIONS
